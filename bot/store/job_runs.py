"""Scheduled job runs: one row per occurrence, claimed before it runs, so each runs once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.store.base import StoreBase, _iso, _parse, _query, _sql

RUN_LEASE = timedelta(minutes=2)  # a run renews its claim every RUN_RENEW while it goes on
RUN_RENEW = timedelta(seconds=30)


@dataclass(frozen=True)
class JobRun:
    """One occurrence of a job. `status`: running, ok, failed, missed, skipped, interrupted
    or cut short; `owner` holds a running one until `lease_until`."""

    job: str
    scheduled_for: datetime
    started_at: datetime | None
    status: str
    finished_at: datetime | None = None
    summary: str | None = None
    owner: str | None = None
    lease_until: datetime | None = None


def _job_run(row: dict[str, Any]) -> JobRun:
    scheduled = _parse(row["scheduled_for"])
    assert scheduled is not None
    return JobRun(
        job=row["job"],
        scheduled_for=scheduled,
        started_at=_parse(row["started_at"]),
        status=row["status"],
        finished_at=_parse(row["finished_at"]),
        summary=row["summary"],
        owner=row["owner"],
        lease_until=_parse(row["lease_until"]),
    )


class JobRunStore(StoreBase):
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
            cursor = _sql(
                db,
                "INSERT INTO job_runs (job, scheduled_for, started_at, status, owner, lease_until) "
                "VALUES (?, ?, ?, 'running', ?, ?) ON CONFLICT (job, scheduled_for) DO UPDATE "
                "SET started_at = excluded.started_at, status = 'running', "
                "owner = excluded.owner, lease_until = excluded.lease_until, finished_at = NULL "
                "WHERE job_runs.status = 'interrupted'",
                [job, _iso(scheduled_for), _iso(now), owner, _iso(now + lease)],
            )
            return cursor.rowcount == 1

    def claim_tick(self, job: str, now: datetime, interval: timedelta, owner: str) -> bool:
        """True if no process ran this interval job within most of its interval: this one
        runs it now. A tick a little early (timers jitter) still runs. A claim more than an
        interval ahead of `now` is a wall clock stepped back (no process is that late: the
        write budget is seconds, intervals are 30 s or more), which must not hold ticks off
        until it catches up; a smaller step delays one tick at most."""
        with self._write() as db:
            cursor = _sql(
                db,
                "INSERT INTO job_ticks (job, owner, next_at) VALUES (?, ?, ?) "
                "ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, "
                "next_at = excluded.next_at WHERE job_ticks.next_at <= ? OR job_ticks.next_at > ?",
                [job, owner, _iso(now + interval * 0.8), _iso(now), _iso(now + interval)],
            )
            return cursor.rowcount == 1

    def renew_run(
        self, job: str, scheduled_for: datetime, owner: str | None, until: datetime
    ) -> bool:
        """Keep holding a run that is still going; False when it is no longer ours."""
        with self._write() as db:
            return (
                _sql(
                    db,
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
            _sql(
                db,
                "UPDATE job_runs SET status = ?, summary = ?, finished_at = ?, owner = NULL, "
                "lease_until = NULL WHERE job = ? AND scheduled_for = ?",
                [status, summary[:2000], _iso(now), job, _iso(scheduled_for)],
            )

    def interrupt_runs(self, owner: str) -> int:
        """At a clean stop: the runs `owner` did not finish in time are interrupted (the
        next start says so and runs them again)."""
        with self._write() as db:
            return _sql(
                db,
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
                cursor = _sql(
                    db,
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
            found = _sql(db, sql, [job]).one()[0]
        return datetime.fromisoformat(found) if found else None

    def first_run_at(self) -> datetime | None:
        """When any job first ran on this database (an install from before the install time
        was recorded)."""
        with self._connect() as db:
            found = _sql(db, "SELECT MIN(started_at) FROM job_runs").one()[0]
        return datetime.fromisoformat(found) if found else None

    def job_runs(self, job: str, limit: int = 50) -> list[JobRun]:
        """A job's recorded occurrences, the latest first."""
        sql = "SELECT * FROM job_runs WHERE job = ? ORDER BY scheduled_for DESC LIMIT ?"
        with self._connect() as db:
            return [_job_run(row) for row in _query(db, sql, [job, limit])]

    def last_run(self, job: str) -> JobRun | None:
        found = self.job_runs(job, limit=1)
        return found[0] if found else None
