"""The golden path: a user connects, gets a database session, and receives an AI reply.

Run it with ``python -m chatapp.golden_path``. Each step runs and reports on its own, like
the smoke test of a deployment; the exit status is 1 when any step failed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from chatapp.ai import assistant
from chatapp.ai.history import load_history
from chatapp.config.base import SETTINGS
from chatapp.db.session import open_session
from chatapp.ws.factory import create_chat_socket

log = logging.getLogger("chatapp")


def _step(number: int, title: str, action: Callable[[], str]) -> bool:
    try:
        detail = action()
    except Exception as exc:
        print(f"[{number}/3] {title}: FAILED ({type(exc).__name__}: {exc})")
        return False
    print(f"[{number}/3] {title}: ok ({detail})")
    return True


def main() -> int:
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    rate = SETTINGS["rate_limit"]
    print(
        f"config: environment={SETTINGS['environment']}, rate limit="
        f"{f'{rate}/min' if rate else 'off'}"
    )
    user = "alice"

    def connect() -> str:
        socket = create_chat_socket(user)
        return f"WebSocket open for {socket.user}"

    def session() -> str:
        open_session()
        history = load_history(user)
        return f"{len(history)} message(s) of history"

    def ai_reply() -> str:
        return assistant.reply(user, "hello")

    results = [
        _step(1, "user connects", connect),
        _step(2, "database session", session),
        _step(3, "AI reply", ai_reply),
    ]
    chat_works = results[0] and results[2]
    print("chat: " + ("working" if chat_works else "DOWN"))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
