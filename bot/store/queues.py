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

from sqlalchemy import Table, func, select

from bot.store.base import Repository, _parse

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


class QueueStore(Repository):
    def _backlog(self, table: Table, born: str, now: datetime) -> Backlog:
        with self._connect() as db:
            waiting = select(func.count(), func.min(table.c[born])).where(
                table.c.state == "pending"
            )
            pending, oldest = tuple(db.execute(waiting).one())
            given_up = select(func.count()).select_from(table).where(table.c.state.in_(GIVEN_UP))
            dead = db.execute(given_up).scalar_one()
        since = _parse(oldest)
        age = round((now - since).total_seconds(), 1) if since else 0.0
        return Backlog(int(pending), max(age, 0.0), int(dead))
