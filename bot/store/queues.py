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

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    FromClause,
    Table,
    Update,
    func,
    select,
    update,
)

from bot.store.base import Repository
from bot.store.sql import _iso, _parse

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


def free(table: FromClause, moment: str | BindParameter[str] | None) -> ColumnElement[bool]:
    """Nobody holds a live lease on the row at `moment`."""
    return table.c.lease_until.is_(None) | (table.c.lease_until < moment)


def held(table: Table, row_id: int, owner: str) -> Update:
    """An UPDATE of the row, if `owner` still holds it."""
    return update(table).where(table.c.id == row_id, table.c.owner == owner)


def put_back(
    db: Connection,
    table: Table,
    row_id: int,
    owner: str,
    due: datetime,
    error: str,
    now: datetime,
    **also: Any,
) -> None:
    """A row whose try failed and may pass later: due again at `due`, its lease let go (and
    the columns in `also` set)."""
    db.execute(
        held(table, row_id, owner).values(
            **also,
            due_at=_iso(due),
            last_error=error,
            owner=None,
            lease_until=None,
            first_failed_at=func.coalesce(table.c.first_failed_at, _iso(now)),
        )
    )


def bury(
    db: Connection, table: Table, row_id: int, owner: str, error: str, now: datetime, state: str
) -> None:
    """Finish a row that was not delivered, in `state` (dead, refused, ...)."""
    db.execute(
        held(table, row_id, owner).values(
            state=state,
            last_error=error,
            finished_at=_iso(now),
            owner=None,
            lease_until=None,
            first_failed_at=func.coalesce(table.c.first_failed_at, _iso(now)),
        )
    )


def _reopenable(table: Table, row_id: int) -> Update:
    """An UPDATE of the row, if it is waiting or was given up on (an operator's retry or
    drop)."""
    return update(table).where(table.c.id == row_id, table.c.state.in_(("pending", *GIVEN_UP)))


def retry(db: Connection, table: Table, row_id: int, now: datetime) -> bool:
    """Put a given-up (or waiting) row back in line, due now; False when there is none."""
    again = _reopenable(table, row_id).values(
        state="pending",
        due_at=_iso(now),
        first_failed_at=None,
        finished_at=None,
        owner=None,
        lease_until=None,
    )
    return db.execute(again).rowcount == 1


def drop(db: Connection, table: Table, row_id: int, now: datetime) -> bool:
    """An operator gives up on a given-up (or waiting) row; False when there is none."""
    gone = _reopenable(table, row_id).values(
        state="dropped", finished_at=_iso(now), owner=None, lease_until=None
    )
    return db.execute(gone).rowcount == 1
