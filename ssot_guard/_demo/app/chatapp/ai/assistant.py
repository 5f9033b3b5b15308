"""The AI assistant. Keeps its own DatabaseManager: a second "singleton" accessor."""

from __future__ import annotations

from chatapp.config.base import DATABASE_PASSWORD, SETTINGS
from chatapp.db.database_manager import DatabaseManager

_db: DatabaseManager | None = None


def get_ai_db() -> DatabaseManager:
    global _db
    if _db is None:
        _db = DatabaseManager(str(SETTINGS["database_url"]), password=DATABASE_PASSWORD)
    return _db


def reply(user: str, message: str) -> str:
    history = get_ai_db().session().fetch_history(user)
    return f"Hi {user}! You said {message!r}; I remember {len(history)} earlier message(s)."
