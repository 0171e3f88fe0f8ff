"""Scheduled job runs: one row per occurrence, claimed before it runs, so each runs once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from bot.store.base import Repository
from bot.store.schema.work import job_runs, job_ticks
from bot.store.sql import _iso, _parse, _rows, upsert

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


class JobRunStore(Repository):
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
            run = upsert(db, job_runs).values(
                job=job,
                scheduled_for=_iso(scheduled_for),
                started_at=_iso(now),
                status="running",
                owner=owner,
                lease_until=_iso(now + lease),
            )
            claim = run.on_conflict_do_update(
                index_elements=["job", "scheduled_for"],
                set_={
                    "started_at": run.excluded.started_at,
                    "status": "running",
                    "owner": run.excluded.owner,
                    "lease_until": run.excluded.lease_until,
                    "finished_at": None,
                },
                where=job_runs.c.status == "interrupted",
            )
            # RETURNING, not rowcount: an INSERT's rowcount is not reliable on every driver
            return db.execute(claim.returning(job_runs.c.job)).first() is not None

    def claim_tick(self, job: str, now: datetime, interval: timedelta, owner: str) -> bool:
        """True if no process ran this interval job within most of its interval: this one
        runs it now. A tick a little early (timers jitter) still runs. A claim more than an
        interval ahead of `now` is a wall clock stepped back (no process is that late: the
        write budget is seconds, intervals are 30 s or more), which must not hold ticks off
        until it catches up; a smaller step delays one tick at most."""
        with self._write() as db:
            tick = upsert(db, job_ticks).values(
                job=job, owner=owner, next_at=_iso(now + interval * 0.8)
            )
            claim = tick.on_conflict_do_update(
                index_elements=["job"],
                set_={"owner": tick.excluded.owner, "next_at": tick.excluded.next_at},
                where=or_(
                    job_ticks.c.next_at <= _iso(now), job_ticks.c.next_at > _iso(now + interval)
                ),
            )
            return db.execute(claim.returning(job_ticks.c.job)).first() is not None

    def release_ticks(self, owner: str, now: datetime) -> int:
        """The interval jobs whose tick a process now gone had claimed are due at `now`: a
        restart after kill -9 between a tick's claim and its run (the incident timers: a
        breach's page) runs them at once, not most of an interval later."""
        free = update(job_ticks).where(job_ticks.c.owner == owner).values(next_at=_iso(now))
        with self._write() as db:
            return int(db.execute(free).rowcount)

    def renew_run(
        self, job: str, scheduled_for: datetime, owner: str | None, until: datetime
    ) -> bool:
        """Keep holding a run that is still going; False when it is no longer ours."""
        renew = (
            update(job_runs)
            .where(
                job_runs.c.job == job,
                job_runs.c.scheduled_for == _iso(scheduled_for),
                job_runs.c.status == "running",
                job_runs.c.owner.is_not_distinct_from(owner),
            )
            .values(lease_until=_iso(until))
        )
        with self._write() as db:
            return db.execute(renew).rowcount == 1

    def finish_run(
        self, job: str, scheduled_for: datetime, status: str, summary: str, now: datetime
    ) -> None:
        finish = (
            update(job_runs)
            .where(job_runs.c.job == job, job_runs.c.scheduled_for == _iso(scheduled_for))
            .values(
                status=status,
                summary=summary[:2000],
                finished_at=_iso(now),
                owner=None,
                lease_until=None,
            )
        )
        with self._write() as db:
            db.execute(finish)

    def interrupt_runs(self, owner: str) -> int:
        """At a clean stop: the runs `owner` did not finish in time are interrupted (the
        next start says so and runs them again)."""
        stop = (
            update(job_runs)
            .where(job_runs.c.status == "running", job_runs.c.owner == owner)
            .values(status="interrupted", lease_until=None)
        )
        with self._write() as db:
            return db.execute(stop).rowcount

    def cut_short(self, now: datetime, gone: Callable[[str], bool]) -> list[JobRun]:
        """Runs cut short, each returned once: left running by an owner that is `gone` (a
        process on this host that died) or whose lease ran out (a host that died), or
        interrupted at a stop and not yet said. They are marked interrupted: free to run
        again."""
        left = select(job_runs).where(
            or_(
                job_runs.c.status == "running",
                (job_runs.c.status == "interrupted") & job_runs.c.owner.is_not(None),
            )
        )
        with self._connect() as db:
            rows = _rows(db.execute(left))
        found = []
        for row in rows:
            held = row["status"] == "running" and row["owner"] is not None
            if held and not gone(row["owner"]) and (row["lease_until"] or "") >= str(_iso(now)):
                continue
            # Only if it is still as read: another process may have said it, or renewed it.
            cut = (
                update(job_runs)
                .where(
                    job_runs.c.job == row["job"],
                    job_runs.c.scheduled_for == row["scheduled_for"],
                    job_runs.c.status == row["status"],
                    job_runs.c.owner.is_not_distinct_from(row["owner"]),
                )
                .values(status="interrupted", owner=None, lease_until=None)
            )
            with self._write() as db:
                said = db.execute(cut).rowcount == 1
            if said:
                found.append(_job_run(row))
        return found

    def last_settled_runs(self) -> dict[str, datetime]:
        """Each job's latest scheduled occurrence that is done with: run (ok or failed),
        missed or skipped. Runs by hand, and runs cut short by a crash, do not count. One
        query for every job: the scheduler asks at each tick."""
        latest = (
            select(job_runs.c.job, func.max(job_runs.c.scheduled_for))
            .where(job_runs.c.status.in_(["ok", "failed", "missed", "skipped", "cut short"]))
            .group_by(job_runs.c.job)
        )
        with self._connect() as db:
            return {job: datetime.fromisoformat(at) for job, at in db.execute(latest)}

    def first_run_at(self) -> datetime | None:
        """When any job first ran on this database (an install from before the install time
        was recorded)."""
        with self._connect() as db:
            found = db.scalar(select(func.min(job_runs.c.started_at)))
        return datetime.fromisoformat(found) if found else None

    def job_runs(self, job: str, limit: int = 50) -> list[JobRun]:
        """A job's recorded occurrences, the latest first."""
        query = (
            select(job_runs)
            .where(job_runs.c.job == job)
            .order_by(job_runs.c.scheduled_for.desc())
            .limit(limit)
        )
        with self._connect() as db:
            return [_job_run(row) for row in _rows(db.execute(query))]

    def last_run(self, job: str) -> JobRun | None:
        found = self.job_runs(job, limit=1)
        return found[0] if found else None
