"""Database sessions.

``get_db_session_factory`` lived here until the consolidation moved it to
``chatapp.db.database_manager.get_session_factory``; the WebSocket factory was not updated.
"""

from __future__ import annotations

from chatapp.db.database_manager import Session, get_database_manager


def open_session() -> Session:
    return get_database_manager().session()
