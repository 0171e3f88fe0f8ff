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

from sqlalchemy import Executable, String, bindparam, delete, func, select, update

from bot.store import queues
from bot.store.base import PRUNE_ODDS
from bot.store.queues import QueueStore
from bot.store.schema.work import inbox
from bot.store.sql import _iso, _parse, _rows, now_utc, prebuilt, upsert


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
                forgotten = _iso(now - timedelta(days=1))
                db.execute(
                    delete(inbox).where(inbox.c.state == "done", inbox.c.received_at < forgotten)
                )
            row = {
                "event_id": event_id,
                "body": body,
                "received_at": _iso(now),
                "due_at": _iso(now),
            }
            stored = db.execute(_STORE(db), row).first() is not None
        if stored and self.db.on_receive is not None:
            self.db.on_receive()
        return stored

    def claim_inbox(self, owner: str, now: datetime, lease: timedelta) -> InboxEvent | None:
        """The oldest stored event that is due and free, taken for `lease`."""
        taking = {"moment": _iso(now), "claimer": owner, "leased_until": _iso(now + lease)}
        with self._write() as db:
            rows = _rows(db.execute(_CLAIM, taking))
        return _event(rows[0]) if rows else None

    def inbox_done(self, row_id: int, owner: str, now: datetime | None = None) -> None:
        with self._write() as db:
            db.execute(
                queues.held(inbox, row_id, owner).values(
                    state="done", owner=None, lease_until=None, finished_at=_iso(now or now_utc())
                )
            )

    def inbox_retry(
        self, row_id: int, owner: str, due: datetime, error: str, now: datetime
    ) -> None:
        with self._write() as db:
            queues.put_back(db, inbox, row_id, owner, due, error, now)

    def inbox_bury(self, row_id: int, owner: str, error: str, now: datetime) -> None:
        """Give up on an event: it is dead, listed by `opsbot inbox`, and can be retried."""
        with self._write() as db:
            queues.bury(db, inbox, row_id, owner, error, now, "dead")

    def inbox_events(self, states: tuple[str, ...], limit: int = 100) -> list[InboxEvent]:
        query = select(inbox).where(inbox.c.state.in_(states)).order_by(inbox.c.id).limit(limit)
        with self._connect() as db:
            return [_event(row) for row in _rows(db.execute(query))]

    def inbox_summary(self, now: datetime) -> dict[str, Any]:
        return self._backlog(inbox, "received_at", now).as_dict()

    def retry_inbox(self, row_id: int, now: datetime) -> bool:
        """Put a dead (or waiting) event back in line, due now."""
        with self._write() as db:
            again = queues.retry(db, inbox, row_id, now)
        if again and self.db.on_receive is not None:
            self.db.on_receive()
        return again

    def drop_inbox(self, row_id: int, now: datetime) -> bool:
        with self._write() as db:
            return queues.drop(db, inbox, row_id, now)

    def inbox_pending(self) -> int:
        query = select(func.count()).select_from(inbox).where(inbox.c.state == "pending")
        with self._connect() as db:
            return int(db.execute(query).scalar_one())


# Built once: every Events API delivery is stored, and claimed, with these.
@prebuilt
def _STORE(dialect: str) -> Executable:  # noqa: N802
    store = upsert(dialect, inbox).on_conflict_do_nothing()
    # RETURNING, not rowcount: an INSERT's rowcount is not reliable on every driver
    return store.returning(inbox.c.id)  # type: ignore[no-any-return]


_MOMENT = bindparam("moment", type_=String)
_READY = (
    inbox.c.state == "pending",
    inbox.c.due_at.is_(None) | (inbox.c.due_at <= _MOMENT),
    queues.free(inbox, _MOMENT),
)
# PostgreSQL: the oldest row no other claim is taking right now (SKIP LOCKED; SQLite has
# one writer and ignores it).
_OLDEST = select(inbox.c.id).where(*_READY).order_by(inbox.c.id).limit(1)
_OLDEST = _OLDEST.with_for_update(skip_locked=True)
# One statement. The row is checked again as it is taken, not only as it was found: on
# PostgreSQL a row another transaction took meanwhile is re-read, and its new lease keeps it
# from being taken twice.
_CLAIM = (
    update(inbox)
    .where(inbox.c.id == _OLDEST.scalar_subquery(), *_READY)
    .values(
        owner=bindparam("claimer"),
        lease_until=bindparam("leased_until"),
        attempts=inbox.c.attempts + 1,
    )
    .returning(inbox)
)
