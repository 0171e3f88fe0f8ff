"""Rollbacks: one row per rollback; a "running" one is the lock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.store.base import StoreBase, _cell, _insert, _iso, _parse, _query, _sql


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
    )


class RollbackStore(StoreBase):
    def add_rollback(self, row: dict[str, Any]) -> int:
        with self._write() as db:
            rollback_id = _insert(db, "rollbacks", row).lastrowid
        assert rollback_id is not None
        return rollback_id

    def rollback(self, rollback_id: int) -> Rollback | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM rollbacks WHERE id = ?", [rollback_id])
        return _rollback(rows[0]) if rows else None

    def rollbacks(self, status: str | None = None) -> list[Rollback]:
        """Every rollback, or those in `status`; newest first."""
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM rollbacks {where} ORDER BY id DESC", args)
        return [_rollback(row) for row in rows]

    def update_rollback(self, rollback_id: int, **fields: Any) -> None:
        values = {k: _cell(_iso(v) if isinstance(v, datetime) else v) for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._write() as db:
            _sql(db, f"UPDATE rollbacks SET {sets} WHERE id = ?", [*values.values(), rollback_id])

    def claim_rollback(self, rollback_id: int, now: datetime) -> bool:
        """pending -> running, only if no other rollback is running: the lock is the unique
        index on running rollbacks, so it holds between processes."""
        try:
            with self._write() as db:
                cursor = _sql(
                    db,
                    "UPDATE rollbacks SET status = 'running', started_at = ? "
                    "WHERE id = ? AND status = 'pending'",
                    [_iso(now), rollback_id],
                )
                return cursor.rowcount == 1
        except IntegrityError:  # another rollback is running
            return False
