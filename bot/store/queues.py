"""What the outbox and the inbox share: both are tables of rows that a process *claims*.

One statement sets a process as a row's owner with a lease, so two processes on one database
never take the same row. It does the work and marks the row. A process that dies mid-way
leaves a lease that runs out, and the row is claimed again, by this process after a restart
or by another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.base import StoreBase, _parse, _sql

GIVEN_UP = ("dead", "refused")  # rows nobody got, that an operator may send again


@dataclass(frozen=True)
class Backlog:
    """What waits in a table: how many rows, the oldest's age in seconds, how many were given
    up on."""

    pending: int
    oldest_seconds: float
    dead: int

    def as_dict(self) -> dict[str, Any]:
        return {"pending": self.pending, "oldest_seconds": self.oldest_seconds, "dead": self.dead}


class QueueStore(StoreBase):
    def _backlog(self, table: str, born: str, now: datetime) -> Backlog:
        marks = ", ".join("?" for _ in GIVEN_UP)
        with self._connect() as db:
            waiting = _sql(
                db, f"SELECT count(*), min({born}) FROM {table} WHERE state = 'pending'"
            ).one()
            pending, oldest = tuple(waiting)
            (dead,) = _sql(
                db, f"SELECT count(*) FROM {table} WHERE state IN ({marks})", GIVEN_UP
            ).one()
        since = _parse(oldest)
        age = round((now - since).total_seconds(), 1) if since else 0.0
        return Backlog(pending, max(age, 0.0), dead)
