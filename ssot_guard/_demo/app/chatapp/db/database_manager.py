"""The canonical DatabaseManager: the single source of truth for database access."""

from __future__ import annotations

from collections.abc import Callable

from chatapp.config.base import DATABASE_PASSWORD, SETTINGS


class Session:
    """A unit of work on the database."""

    def __init__(self, manager: DatabaseManager) -> None:
        self.manager = manager

    def fetch_history(self, user: str) -> list[str]:
        return [f"{user}: hello again"]


class DatabaseManager:
    """Owns the connection pool. Declared canonical and singleton in pyproject.toml."""

    def __init__(self, url: str, password: str) -> None:
        self.url = url
        self._password = password
        self.pool_size = 5

    def session(self) -> Session:
        return Session(self)


_manager: DatabaseManager | None = None


def get_database_manager() -> DatabaseManager:
    """The process-wide manager (the one accessor everybody should use)."""
    global _manager
    if _manager is None:
        _manager = DatabaseManager(str(SETTINGS["database_url"]), password=DATABASE_PASSWORD)
    return _manager


def get_session_factory() -> Callable[[], Session]:
    """What ``chatapp.db.session.get_db_session_factory`` used to return."""
    return get_database_manager().session
