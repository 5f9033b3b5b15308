"""Chat history, still read through the old DatabaseManager."""

from __future__ import annotations

from chatapp.config.base import DATABASE_PASSWORD, SETTINGS
from chatapp.legacy.db_manager import DatabaseManager


def load_history(user: str) -> list[str]:
    manager = DatabaseManager(str(SETTINGS["database_url"]), password=DATABASE_PASSWORD)
    return manager.fetch_history(user)
