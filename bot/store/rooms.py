"""Incident channels (rooms): which channel an incident works in, its card there, whether it
is archived, and why there is none (bot/domain/incidents/room.py makes and keeps them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.store.base import Repository
from bot.store.incident_rows import Entry, Incident, _incident
from bot.store.incidents import _insert_entries, _update
from bot.store.schema.records import incidents
from bot.store.sql import _rows


class RoomStore(Repository):
    def set_room(self, number: int, channel: str, name: str, entry: Entry) -> None:
        """The incident works in `channel` from now on, and its timeline says so."""
        with self._write() as db:
            _update(db, number, {"room_id": channel, "room_name": name, "room_problem": None})
            _insert_entries(db, number, (entry,))

    def set_problem(self, number: int, problem: str) -> None:
        """Slack would not make the channel: the incident stays in its thread."""
        with self._write() as db:
            _update(db, number, {"room_problem": problem})

    def set_room_card(self, number: int, ts: str) -> None:
        with self._write() as db:
            _update(db, number, {"room_card_ts": ts})

    def set_archived(self, number: int, at: datetime | None, entry: Entry) -> None:
        with self._write() as db:
            _update(db, number, {"room_archived_at": at})
            _insert_entries(db, number, (entry,))

    def forget(self, number: int, entry: Entry) -> None:
        """Its archived channel is let go (no bot can unarchive one): a new one can be made."""
        gone = dict.fromkeys(("room_id", "room_name", "room_card_ts", "room_archived_at"))
        with self._write() as db:
            _update(db, number, gone)
            _insert_entries(db, number, (entry,))

    def by_room(self, channel: str) -> Incident | None:
        """The incident whose channel this is."""
        query = select(incidents).where(incidents.c.room_id == channel).limit(1)
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return _incident(rows[0]) if rows else None
