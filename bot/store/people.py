"""Display names of Slack users, looked up once (bot/people.py) and kept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.store.base import StoreBase, _iso, _query, _sql


class PeopleStore(StoreBase):
    def names(self, users: Iterable[str]) -> dict[str, str]:
        """The display names known for `users` (those Slack could not name are left out)."""
        wanted = list(dict.fromkeys(users))
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        sql = f"SELECT user_id, name FROM people WHERE name IS NOT NULL AND user_id IN ({marks})"
        with self._connect() as db:
            return {row["user_id"]: row["name"] for row in _query(db, sql, wanted)}

    def asked_since(self, users: Iterable[str], since: datetime) -> set[str]:
        """Of `users`, those already named, or asked about since `since` without an answer."""
        wanted = list(dict.fromkeys(users))
        if not wanted:
            return set()
        marks = ", ".join("?" for _ in wanted)
        sql = (
            f"SELECT user_id FROM people WHERE user_id IN ({marks}) "
            "AND (name IS NOT NULL OR looked_up_at >= ?)"
        )
        with self._connect() as db:
            return {row["user_id"] for row in _query(db, sql, [*wanted, _iso(since)])}

    def save_name(self, user: str, name: str | None, at: datetime) -> None:
        """`name` None: Slack could not say (the id is shown, and asked again later)."""
        with self._write() as db:
            _sql(
                db,
                "INSERT INTO people (user_id, name, looked_up_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, "
                "looked_up_at = excluded.looked_up_at",
                [user, name, _iso(at)],
            )
