"""WebSocket factory: accepts a user's connection after a database health check."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("chatapp.ws")


class ChatUnavailable(Exception):
    """The chat cannot accept connections."""


@dataclass
class ChatSocket:
    user: str
    session: Any


def create_chat_socket(user: str) -> ChatSocket:
    try:
        from chatapp.db.session import get_db_session_factory

        session = get_db_session_factory()()
    except Exception as exc:  # "any failure here means the database is down"
        log.error("database health check failed, rejecting WebSocket for %s", user)
        raise ChatUnavailable("database unavailable") from exc
    return ChatSocket(user, session)
