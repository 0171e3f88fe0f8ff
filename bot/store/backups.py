"""Backups of the app's database, and the care log of what database care deleted or
archived."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.store.base import StoreBase, _cell, _insert, _iso, _parse, _query


class BackupStore(StoreBase):
    def start_backup(
        self, engine: str, database: str, path: str, reason: str, now: datetime
    ) -> int | None:
        """Record a running backup; None if one is running already (one at a time: the unique
        index on running backups, so it holds between processes)."""
        with self._write() as db:
            row = {
                "started_at": _iso(now),
                "status": "running",
                "engine": engine,
                "database": database,
                "path": path,
                "reason": reason,
            }
            cursor = _insert(db, "backups", row, or_ignore=True)
            return cursor.lastrowid if cursor.rowcount == 1 else None

    def finish_backup(self, backup_id: int, **fields: Any) -> None:
        allowed = {
            "finished_at",
            "status",
            "size",
            "sha256",
            "counts",
            "error",
            "path",
            "verified_at",
            "verify_result",
        }
        assert set(fields) <= allowed, set(fields) - allowed
        values = {k: _cell(_iso(v) if isinstance(v, datetime) else v) for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._write() as db:
            db.execute(f"UPDATE backups SET {sets} WHERE id = ?", [*values.values(), backup_id])

    def backups(self, *, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first."""
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        return self._backup_rows(f"{where} ORDER BY id DESC LIMIT ?", [*args, limit])

    def backup(self, backup_id: int) -> dict[str, Any] | None:
        rows = self._backup_rows("WHERE id = ?", [backup_id])
        return rows[0] if rows else None

    def _backup_rows(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM backups {tail}", args)
        for row in rows:
            row["counts"] = json.loads(row["counts"]) if row["counts"] else {}
            for key in ("started_at", "finished_at", "verified_at"):
                row[key] = _parse(row[key])
        return rows

    def log_care(self, at: datetime, actor: str, action: str, counts: dict[str, int]) -> None:
        with self._write() as db:
            _insert(
                db,
                "care_log",
                {"at": _iso(at), "actor": actor, "action": action, "counts": counts},
            )

    def care_log(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _query(db, "SELECT * FROM care_log ORDER BY id")
