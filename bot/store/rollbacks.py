"""Rollbacks: one row per rollback; a "running" one is the lock."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from bot.store.base import StoreBase, _cell, _insert, _iso, _query


class RollbackStore(StoreBase):
    def add_rollback(self, row: dict[str, Any]) -> int:
        with self._write() as db:
            rollback_id = _insert(db, "rollbacks", row).lastrowid
        assert rollback_id is not None
        return rollback_id

    def rollback(self, rollback_id: int) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM rollbacks WHERE id = ?", [rollback_id])
        return self._decoded(rows)[0] if rows else None

    def rollbacks(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every rollback, or those in `status`; newest first."""
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM rollbacks {where} ORDER BY id DESC", args)
        return self._decoded(rows)

    @staticmethod
    def _decoded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            row["approvals"] = json.loads(row["approvals"] or "[]")
            row["steps"] = json.loads(row["steps"] or "[]")
        return rows

    def update_rollback(self, rollback_id: int, **fields: Any) -> None:
        values = {k: _cell(_iso(v) if isinstance(v, datetime) else v) for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._write() as db:
            db.execute(f"UPDATE rollbacks SET {sets} WHERE id = ?", [*values.values(), rollback_id])

    def claim_rollback(self, rollback_id: int, now: datetime) -> bool:
        """pending -> running, only if no other rollback is running: the lock is the unique
        index on running rollbacks, so it holds between processes."""
        try:
            with self._write() as db:
                cursor = db.execute(
                    "UPDATE rollbacks SET status = 'running', started_at = ? "
                    "WHERE id = ? AND status = 'pending'",
                    [_iso(now), rollback_id],
                )
                return cursor.rowcount == 1
        except sqlite3.IntegrityError:  # another rollback is running
            return False
