"""Backups of the app's database, and the care log of what database care deleted or
archived."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, update

from bot.store.base import Repository
from bot.store.schema.records import backups, care_log
from bot.store.sql import _iso, _parse, _rows, cells, upsert


@dataclass(frozen=True)
class Backup:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, ok, failed, interrupted, expired
    engine: str  # builtin or mongodump
    database: str
    path: str  # its folder; "" until it is named
    size: int | None  # bytes, once it is ok
    sha256: str | None
    counts: dict[str, int]  # documents per collection, once it is ok
    reason: str | None
    error: str | None
    verified_at: datetime | None
    verify_result: str | None  # "passed ..." or the problems found
    owner: str | None = None  # the process running it (bot/owners.py)


def _backup(row: dict[str, Any]) -> Backup:
    started = _parse(row["started_at"])
    assert started is not None
    return Backup(
        id=row["id"],
        started_at=started,
        finished_at=_parse(row["finished_at"]),
        status=row["status"],
        engine=row["engine"],
        database=row["database"],
        path=row["path"],
        size=row["size"],
        sha256=row["sha256"],
        counts=json.loads(row["counts"]) if row["counts"] else {},
        reason=row["reason"],
        error=row["error"],
        verified_at=_parse(row["verified_at"]),
        verify_result=row["verify_result"],
        owner=row["owner"],
    )


@dataclass(frozen=True)
class CareEntry:
    """What database care deleted or archived, and who asked."""

    id: int
    at: datetime
    actor: str
    action: str
    counts: dict[str, int]


def _care_entry(row: dict[str, Any]) -> CareEntry:
    at = _parse(row["at"])
    assert at is not None
    return CareEntry(row["id"], at, row["actor"], row["action"], json.loads(row["counts"] or "{}"))


class BackupStore(Repository):
    def start_backup(
        self,
        engine: str,
        database: str,
        path: str,
        reason: str,
        now: datetime,
        owner: str | None = None,
    ) -> int | None:
        """Record a running backup, run by the process `owner`; None if one is running
        already (one at a time: the unique index on running backups, so it holds between
        processes)."""
        row = {
            "started_at": _iso(now),
            "status": "running",
            "engine": engine,
            "database": database,
            "path": path,
            "reason": reason,
            "owner": owner,
        }
        with self._write() as db:
            add = upsert(db, backups).values(cells(row))
            # DO NOTHING with no target: a conflict on backups_one_running means one is running
            backup_id: int | None = db.scalar(add.on_conflict_do_nothing().returning(backups.c.id))
        return backup_id

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
        values = cells(fields)
        if not values:
            return
        with self._write() as db:
            db.execute(update(backups).where(backups.c.id == backup_id).values(values))

    def find(self, *, status: str | None = None, limit: int = 20) -> list[Backup]:
        """Newest first."""
        query = select(backups).order_by(backups.c.id.desc()).limit(limit)
        if status:
            query = query.where(backups.c.status == status)
        return self._backup_rows(query)

    def backup(self, backup_id: int) -> Backup | None:
        rows = self._backup_rows(select(backups).where(backups.c.id == backup_id))
        return rows[0] if rows else None

    def _backup_rows(self, query: Select[Any]) -> list[Backup]:
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return [_backup(row) for row in rows]

    def log_care(self, at: datetime, actor: str, action: str, counts: dict[str, int]) -> None:
        with self._write() as db:
            row = {"at": _iso(at), "actor": actor, "action": action, "counts": counts}
            db.execute(insert(care_log).values(cells(row)))

    def care_log(self) -> list[CareEntry]:
        with self._connect() as db:
            rows = _rows(db.execute(select(care_log).order_by(care_log.c.id)))
        return [_care_entry(row) for row in rows]
