"""A copy of the old DatabaseManager that the consolidation was meant to remove."""

from __future__ import annotations


class DatabaseManager:
    """Duplicate of chatapp.db.database_manager.DatabaseManager, with its own pool."""

    def __init__(self, url: str, password: str) -> None:
        self.url = url
        self._password = password
        self.pool_size = 2

    def fetch_history(self, user: str) -> list[str]:
        return [f"{user}: hello again"]
