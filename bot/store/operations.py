"""Operational records: health readings and alert episodes, backups and the care log,
rollbacks, scheduled job runs, digests and their marks, security audits."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.store.base import StoreBase, _cell, _insert, _iso, _parse, _query

RUN_LEASE = timedelta(minutes=2)  # a run renews its claim every RUN_RENEW while it goes on
RUN_RENEW = timedelta(seconds=30)


@dataclass(frozen=True)
class JobRun:
    job: str
    scheduled_for: datetime
    started_at: datetime | None
    status: str


def _job_run(row: dict[str, Any]) -> JobRun:
    scheduled = _parse(row["scheduled_for"])
    assert scheduled is not None
    return JobRun(row["job"], scheduled, _parse(row["started_at"]), row["status"])


class OperationsStore(StoreBase):
    # Health ------------------------------------------------------------------------------

    def add_readings(
        self, at: datetime, readings: list[tuple[str, str, float | None, str]], keep: timedelta
    ) -> None:
        with self._write() as db:
            for check, state, value, summary in readings:
                _insert(
                    db,
                    "health_readings",
                    {
                        "at": _iso(at),
                        "check_name": check,
                        "state": state,
                        "value": value,
                        "summary": summary,
                    },
                )
            db.execute("DELETE FROM health_readings WHERE at < ?", [_iso(at - keep)])

    def readings(self, check: str, since: datetime) -> list[dict[str, Any]]:
        sql = "SELECT * FROM health_readings WHERE check_name = ? AND at >= ? ORDER BY at"
        with self._connect() as db:
            rows = _query(db, sql, [check, _iso(since)])
        return [{**r, "at": datetime.fromisoformat(r["at"])} for r in rows]

    def open_episode(self, check: str) -> dict[str, Any] | None:
        sql = "SELECT * FROM health_episodes WHERE check_name = ? AND ended_at IS NULL"
        with self._connect() as db:
            rows = _query(db, sql, [check])
        return rows[0] if rows else None

    def save_episode(self, episode: dict[str, Any]) -> int:
        with self._write() as db:
            if episode.get("id"):
                fields = {k: v for k, v in episode.items() if k != "id"}
                sets = ", ".join(f"{k} = ?" for k in fields)
                db.execute(
                    f"UPDATE health_episodes SET {sets} WHERE id = ?",
                    [*(_cell(value) for value in fields.values()), episode["id"]],
                )
                return int(episode["id"])
            row_id = _insert(db, "health_episodes", episode).lastrowid
        assert row_id is not None
        return row_id

    # Backups -----------------------------------------------------------------------------

    def start_backup(
        self, engine: str, database: str, path: str, reason: str, now: datetime
    ) -> int | None:
        """Record a running backup; None if one is running already (one at a time)."""
        with self._write() as db:
            if _query(db, "SELECT id FROM backups WHERE status = 'running'"):
                return None
            row = {
                "started_at": _iso(now),
                "status": "running",
                "engine": engine,
                "database": database,
                "path": path,
                "reason": reason,
            }
            return _insert(db, "backups", row).lastrowid

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

    # Rollbacks ---------------------------------------------------------------------------

    def add_rollback(self, row: dict[str, Any]) -> int:
        with self._write() as db:
            rollback_id = _insert(db, "rollbacks", row).lastrowid
        assert rollback_id is not None
        return rollback_id

    def rollback(self, rollback_id: int) -> dict[str, Any] | None:
        rows = self.rollbacks("WHERE id = ?", [rollback_id])
        return rows[0] if rows else None

    def rollbacks(self, where: str = "", args: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM rollbacks {where} ORDER BY id DESC", args or [])
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
        """pending -> running, only if no other rollback is running: the lock."""
        with self._write() as db:
            if _query(db, "SELECT id FROM rollbacks WHERE status = 'running'"):
                return False
            cursor = db.execute(
                "UPDATE rollbacks SET status = 'running', started_at = ? "
                "WHERE id = ? AND status = 'pending'",
                [_iso(now), rollback_id],
            )
            return cursor.rowcount == 1

    # Job runs ----------------------------------------------------------------------------

    def claim_run(
        self,
        job: str,
        scheduled_for: datetime,
        now: datetime,
        owner: str | None = None,
        lease: timedelta = RUN_LEASE,
    ) -> bool:
        """True if this occurrence has not run (or was cut short): it is now running, held by
        `owner` until `now + lease` (renewed while it runs). One statement, so two processes
        on one database never both run it."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO job_runs (job, scheduled_for, started_at, status, owner, lease_until) "
                "VALUES (?, ?, ?, 'running', ?, ?) ON CONFLICT (job, scheduled_for) DO UPDATE "
                "SET started_at = excluded.started_at, status = 'running', "
                "owner = excluded.owner, lease_until = excluded.lease_until, finished_at = NULL "
                "WHERE job_runs.status = 'interrupted'",
                [job, _iso(scheduled_for), _iso(now), owner, _iso(now + lease)],
            )
            return cursor.rowcount == 1

    def renew_run(
        self, job: str, scheduled_for: datetime, owner: str | None, until: datetime
    ) -> bool:
        """Keep holding a run that is still going; False when it is no longer ours."""
        with self._write() as db:
            return (
                db.execute(
                    "UPDATE job_runs SET lease_until = ? WHERE job = ? AND scheduled_for = ? "
                    "AND status = 'running' AND owner IS ?",
                    [_iso(until), job, _iso(scheduled_for), owner],
                ).rowcount
                == 1
            )

    def finish_run(
        self, job: str, scheduled_for: datetime, status: str, summary: str, now: datetime
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE job_runs SET status = ?, summary = ?, finished_at = ?, owner = NULL, "
                "lease_until = NULL WHERE job = ? AND scheduled_for = ?",
                [status, summary[:2000], _iso(now), job, _iso(scheduled_for)],
            )

    def interrupt_runs(self, owner: str) -> int:
        """At a clean stop: the runs `owner` did not finish in time are interrupted (the
        next start says so and runs them again)."""
        with self._write() as db:
            return db.execute(
                "UPDATE job_runs SET status = 'interrupted', lease_until = NULL "
                "WHERE status = 'running' AND owner = ?",
                [owner],
            ).rowcount

    def cut_short(self, now: datetime, gone: Callable[[str], bool]) -> list[JobRun]:
        """Runs cut short, each returned once: left running by an owner that is `gone` (a
        process on this host that died) or whose lease ran out (a host that died), or
        interrupted at a stop and not yet said. They are marked interrupted: free to run
        again."""
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT * FROM job_runs WHERE (status = 'running' OR "
                "(status = 'interrupted' AND owner IS NOT NULL))",
            )
        found = []
        for row in rows:
            held = row["status"] == "running" and row["owner"] is not None
            if held and not gone(row["owner"]) and (row["lease_until"] or "") >= str(_iso(now)):
                continue
            with self._write() as db:
                cursor = db.execute(
                    "UPDATE job_runs SET status = 'interrupted', owner = NULL, lease_until = NULL "
                    "WHERE job = ? AND scheduled_for = ? AND status = ? AND owner IS ?",
                    [row["job"], row["scheduled_for"], row["status"], row["owner"]],
                )
            if cursor.rowcount == 1:
                found.append(_job_run(row))
        return found

    def last_settled_run(self, job: str) -> datetime | None:
        """The latest scheduled occurrence that is done with: run (ok or failed), missed or
        skipped. Runs by hand, and runs cut short by a crash, do not count."""
        sql = (
            "SELECT MAX(scheduled_for) FROM job_runs WHERE job = ? "
            "AND status IN ('ok', 'failed', 'missed', 'skipped', 'cut short')"
        )
        with self._connect() as db:
            found = db.execute(sql, [job]).fetchone()[0]
        return datetime.fromisoformat(found) if found else None

    def first_run_at(self) -> datetime | None:
        """When any job first ran on this database (an install from before the install time
        was recorded)."""
        with self._connect() as db:
            found = db.execute("SELECT MIN(started_at) FROM job_runs").fetchone()[0]
        return datetime.fromisoformat(found) if found else None

    def job_runs(self, job: str, limit: int = 50) -> list[dict[str, Any]]:
        """A job's recorded occurrences, the latest first."""
        sql = "SELECT * FROM job_runs WHERE job = ? ORDER BY scheduled_for DESC LIMIT ?"
        with self._connect() as db:
            return _query(db, sql, [job, limit])

    def last_run(self, job: str) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT * FROM job_runs WHERE job = ? ORDER BY scheduled_for DESC LIMIT 1",
                [job],
            )
        return rows[0] if rows else None

    # Digests -----------------------------------------------------------------------------

    def add_digest(
        self,
        kind: str,
        day: str,
        channel: str,
        ts: str,
        now: datetime,
        sections: list[dict[str, str]],
    ) -> int:
        row = {
            "kind": kind,
            "day": day,
            "channel": channel,
            "ts": ts,
            "posted_at": _iso(now),
            "sections": sections,
        }
        with self._write() as db:
            digest_id = _insert(db, "digests", row).lastrowid
        assert digest_id is not None
        return digest_id

    def set_digest_message(self, digest_id: int, channel: str, ts: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE digests SET channel = ?, ts = ? WHERE id = ?", [channel, ts, digest_id]
            )

    def digests(self, where: str = "", args: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM digests {where} ORDER BY id", args or [])
        for row in rows:
            row["sections"] = json.loads(row["sections"] or "[]")
        return rows

    def mark(
        self, digest_id: int, item: str, user: str, now: datetime, *, add: bool = True
    ) -> bool:
        """Record (or with add=False remove) that `user` did `item`; False if nothing changed."""
        with self._write() as db:
            if add:
                return (
                    db.execute(
                        "INSERT OR IGNORE INTO digest_marks VALUES (?, ?, ?, ?)",
                        [digest_id, item, user, _iso(now)],
                    ).rowcount
                    == 1
                )
            return (
                db.execute(
                    "DELETE FROM digest_marks WHERE digest_id = ? AND item = ? AND user = ?",
                    [digest_id, item, user],
                ).rowcount
                == 1
            )

    def marks(self, digest_id: int) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _query(
                db, "SELECT * FROM digest_marks WHERE digest_id = ? ORDER BY at", [digest_id]
            )

    # Security audits ---------------------------------------------------------------------

    def add_security_run(
        self, at: datetime, summary: dict[str, Any], findings: list[tuple[str, str, str, str]]
    ) -> int:
        with self._write() as db:
            run_id = _insert(db, "security_runs", {"at": _iso(at), "summary": summary}).lastrowid
            assert run_id is not None
            for fingerprint, check, severity, title in findings:
                db.execute(
                    "INSERT OR IGNORE INTO security_findings VALUES (?, ?, ?, ?, ?)",
                    [run_id, fingerprint, check, severity, title],
                )
        return run_id

    def security_runs(self, limit: int = 2) -> list[dict[str, Any]]:
        with self._connect() as db:
            runs = _query(db, "SELECT * FROM security_runs ORDER BY id DESC LIMIT ?", [limit])
            for run in runs:
                run["summary"] = json.loads(run["summary"])
                run["fingerprints"] = {
                    r["fingerprint"]
                    for r in _query(
                        db,
                        "SELECT fingerprint FROM security_findings WHERE run_id = ?",
                        [run["id"]],
                    )
                }
        return runs

    def security_finding(self, run_id: int, mark: str) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT * FROM security_findings WHERE run_id = ? AND fingerprint = ?",
                [run_id, mark],
            )
        return rows[0] if rows else None
