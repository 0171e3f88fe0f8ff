"""The inbox: Events API deliveries, stored before Slack gets its 200 and processed from
here, claimed like outbox rows (bot/store/queues.py). A failed event is tried again with
backoff until it works or is given up on: `dead`, listed by `opsbot inbox`, and can be
retried; `dropped` when an operator gave up on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.store.base import PRUNE_ODDS, _iso, _parse, _query, _sql, now_utc
from bot.store.queues import QueueStore


@dataclass(frozen=True)
class InboxEvent:
    id: int
    event_id: str
    body: str
    attempts: int
    state: str = "pending"
    received_at: datetime | None = None
    first_failed_at: datetime | None = None
    last_error: str | None = None


def _event(row: dict[str, Any]) -> InboxEvent:
    return InboxEvent(
        id=row["id"],
        event_id=row["event_id"],
        body=row["body"],
        attempts=row["attempts"],
        state=row["state"],
        received_at=_parse(row["received_at"]),
        first_failed_at=_parse(row["first_failed_at"]),
        last_error=row["last_error"],
    )


class InboxStore(QueueStore):
    def receive(self, event_id: str, body: str, now: datetime) -> bool:
        """Store an Events API delivery; False when this event_id was stored before (a retry)."""
        with self._write() as db:
            if random.random() < PRUNE_ODDS:
                _sql(
                    db,
                    "DELETE FROM inbox WHERE state = 'done' AND received_at < ?",
                    [_iso(now - timedelta(days=1))],
                )
            cursor = _sql(
                db,
                "INSERT OR IGNORE INTO inbox (event_id, body, received_at, due_at) "
                "VALUES (?, ?, ?, ?)",
                [event_id, body, _iso(now), _iso(now)],
            )
            stored = cursor.rowcount == 1
        if stored and self.on_receive is not None:
            self.on_receive()
        return stored

    def claim_inbox(self, owner: str, now: datetime, lease: timedelta) -> InboxEvent | None:
        """The oldest stored event that is due and free, taken for `lease`."""
        moment = _iso(now)
        with self._write() as db:
            rows = _query(
                db,
                "UPDATE inbox SET owner = ?, lease_until = ?, attempts = attempts + 1 "
                "WHERE id = (SELECT id FROM inbox WHERE state = 'pending' "
                "AND (due_at IS NULL OR due_at <= ?) "
                "AND (lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT 1) "
                "AND state = 'pending' RETURNING *",
                [owner, _iso(now + lease), moment, moment],
            )
        return _event(rows[0]) if rows else None

    def inbox_done(self, row_id: int, owner: str, now: datetime | None = None) -> None:
        with self._write() as db:
            _sql(
                db,
                "UPDATE inbox SET state = 'done', owner = NULL, lease_until = NULL, "
                "finished_at = ? WHERE id = ? AND owner = ?",
                [_iso(now or now_utc()), row_id, owner],
            )

    def inbox_retry(
        self, row_id: int, owner: str, due: datetime, error: str, now: datetime
    ) -> None:
        with self._write() as db:
            _sql(
                db,
                "UPDATE inbox SET due_at = ?, last_error = ?, owner = NULL, lease_until = NULL, "
                "first_failed_at = coalesce(first_failed_at, ?) WHERE id = ? AND owner = ?",
                [_iso(due), error, _iso(now), row_id, owner],
            )

    def inbox_bury(self, row_id: int, owner: str, error: str, now: datetime) -> None:
        """Give up on an event: it is dead, listed by `opsbot inbox`, and can be retried."""
        with self._write() as db:
            _sql(
                db,
                "UPDATE inbox SET state = 'dead', last_error = ?, finished_at = ?, owner = NULL, "
                "lease_until = NULL, first_failed_at = coalesce(first_failed_at, ?) "
                "WHERE id = ? AND owner = ?",
                [error, _iso(now), _iso(now), row_id, owner],
            )

    def inbox_events(self, states: tuple[str, ...], limit: int = 100) -> list[InboxEvent]:
        marks = ", ".join("?" for _ in states)
        sql = f"SELECT * FROM inbox WHERE state IN ({marks}) ORDER BY id LIMIT ?"
        with self._connect() as db:
            return [_event(row) for row in _query(db, sql, [*states, limit])]

    def inbox_summary(self, now: datetime) -> dict[str, Any]:
        return self._backlog("inbox", "received_at", now).as_dict()

    def retry_inbox(self, row_id: int, now: datetime) -> bool:
        """Put a dead (or waiting) event back in line, due now."""
        with self._write() as db:
            cursor = _sql(
                db,
                "UPDATE inbox SET state = 'pending', due_at = ?, first_failed_at = NULL, "
                "finished_at = NULL, owner = NULL, lease_until = NULL "
                "WHERE id = ? AND state IN ('pending', 'dead')",
                [_iso(now), row_id],
            )
        if cursor.rowcount == 1 and self.on_receive is not None:
            self.on_receive()
        return cursor.rowcount == 1

    def drop_inbox(self, row_id: int, now: datetime) -> bool:
        with self._write() as db:
            cursor = _sql(
                db,
                "UPDATE inbox SET state = 'dropped', finished_at = ?, owner = NULL, "
                "lease_until = NULL WHERE id = ? AND state IN ('pending', 'dead')",
                [_iso(now), row_id],
            )
            return cursor.rowcount == 1

    def inbox_pending(self) -> int:
        with self._connect() as db:
            (count,) = _sql(db, "SELECT count(*) FROM inbox WHERE state = 'pending'").one()
        return int(count)
