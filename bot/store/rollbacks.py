"""Rollbacks: one row per rollback; a "running" one is the lock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.base import Repository
from bot.store.schema.records import rollbacks
from bot.store.sql import _iso, _parse, _rows, cells


@dataclass(frozen=True)
class Rollback:
    id: int
    tag: str
    from_tag: str | None  # what was deployed when it was requested; None if unknown
    incident_id: int | None
    requested_by: str | None
    approvals: list[str]  # who confirmed, in order
    status: str  # pending, running, ok, failed, cancelled, interrupted
    created_at: datetime | None  # None on rows written without it (the column allows it)
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[dict[str, Any]]  # each step's name, status and seconds, as last recorded
    channel: str | None  # where the preview was posted, once it was
    ts: str | None
    thread_ts: str | None
    owner: str | None = None  # the process running it (bot/owners.py)


def _rollback(row: dict[str, Any]) -> Rollback:
    return Rollback(
        id=row["id"],
        tag=row["tag"],
        from_tag=row["from_tag"],
        incident_id=row["incident_id"],
        requested_by=row["requested_by"],
        approvals=json.loads(row["approvals"] or "[]"),
        status=row["status"],
        created_at=_parse(row["created_at"]),
        started_at=_parse(row["started_at"]),
        finished_at=_parse(row["finished_at"]),
        steps=json.loads(row["steps"] or "[]"),
        channel=row["channel"],
        ts=row["ts"],
        thread_ts=row["thread_ts"],
        owner=row["owner"],
    )


class RollbackStore(Repository):
    def add_rollback(self, row: dict[str, Any]) -> int:
        values = cells(row)
        with self._write() as db:
            add = insert(rollbacks).values(values)
            rollback_id: int = db.execute(add.returning(rollbacks.c.id)).scalar_one()
        return rollback_id

    def rollback(self, rollback_id: int) -> Rollback | None:
        with self._connect() as db:
            rows = _rows(db.execute(select(rollbacks).where(rollbacks.c.id == rollback_id)))
        return _rollback(rows[0]) if rows else None

    def find(self, status: str | None = None) -> list[Rollback]:
        """Every rollback, or those in `status`; newest first."""
        query = select(rollbacks).order_by(rollbacks.c.id.desc())
        if status:
            query = query.where(rollbacks.c.status == status)
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return [_rollback(row) for row in rows]

    def update_rollback(self, rollback_id: int, **fields: Any) -> None:
        values = cells(fields)
        if not values:
            return
        with self._write() as db:
            db.execute(update(rollbacks).where(rollbacks.c.id == rollback_id).values(values))

    def claim_rollback(self, rollback_id: int, now: datetime, owner: str | None = None) -> bool:
        """pending -> running, run by the process `owner`, only if no other rollback is
        running: the lock is the unique index on running rollbacks, so it holds between
        processes."""
        claim = (
            update(rollbacks)
            .where(rollbacks.c.id == rollback_id, rollbacks.c.status == "pending")
            .values(status="running", started_at=_iso(now), owner=owner)
        )
        try:
            # Inside a caller's transaction, a savepoint of its own: on PostgreSQL the failed
            # UPDATE would abort the whole transaction.
            with self.db._write(savepoint=True) as db:
                claimed = db.execute(claim).rowcount == 1
        except IntegrityError:  # another rollback is running
            return False
        return claimed
