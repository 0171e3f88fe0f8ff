"""Scheduled jobs: one module per job, listed in JOBS with its trigger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.deps import Deps
from jobs import backup, card_sync, health_monitor, incident_timers, oncall_handover, oncall_post


@dataclass(frozen=True)
class Job:
    run: Callable[..., str]
    trigger: Callable[[Deps], Any]
    description: str
    at_start: bool = False


JOBS: dict[str, Job] = {
    "card-sync": Job(
        card_sync.run,
        lambda deps: IntervalTrigger(minutes=1),
        "post the card of any open incident that has none",
        at_start=True,
    ),
    "incident-timers": Job(
        incident_timers.run,
        lambda deps: IntervalTrigger(seconds=30),
        "escalate missed response targets, refresh cards, send incident reminders",
        at_start=True,
    ),
    "oncall-handover": Job(
        oncall_handover.run,
        lambda deps: IntervalTrigger(minutes=1),
        "announce a change of who is on call; sync the on-call user group",
        at_start=True,
    ),
    "health-monitor": Job(
        health_monitor.run,
        lambda deps: IntervalTrigger(minutes=deps.settings.health.monitor_minutes),
        "run the health checks, keep readings, alert on warning/critical and recovery",
        at_start=True,
    ),
    "backup-nightly": Job(
        backup.nightly,
        lambda deps: _daily(deps, deps.settings.backup.nightly_time, [0, 1, 2, 3, 4, 5, 6]),
        "back up MongoDB, then apply retention (daily/weekly/monthly)",
    ),
    "backup-verify": Job(
        backup.weekly_verify,
        lambda deps: CronTrigger(day_of_week="mon", hour=4, timezone=deps.settings.tz),
        "verify the latest backup: checksum, files readable, counts (Mondays 04:00)",
    ),
    "backup-restore-test": Job(
        backup.monthly_restore_test,
        lambda deps: CronTrigger(day=1, hour=4, minute=30, timezone=deps.settings.tz),
        "restore the latest backup into a scratch database and count (1st of the month)",
    ),
    "db-review": Job(
        backup.monthly_review,
        lambda deps: CronTrigger(day=1, hour=5, timezone=deps.settings.tz),
        "monthly database review: indexes, slow queries, cleanup candidates (1st, 05:00)",
    ),
    "oncall-post": Job(
        oncall_post.run,
        lambda deps: _daily(
            deps, deps.settings.oncall.announce_time, deps.settings.oncall.announce_days
        ),
        "post who is on call (configured days and time)",
    ),
}


def _daily(deps: Deps, at: str, days: list[int]) -> CronTrigger:
    """At `at` (HH:MM, the team's zone) on `days` (Monday is 0)."""
    hour, minute = at.split(":")
    weekdays = ",".join(str(d) for d in days) or "mon-fri"
    return CronTrigger(
        day_of_week=weekdays, hour=int(hour), minute=int(minute), timezone=deps.settings.tz
    )


def run_job(name: str, deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    job = JOBS.get(name)
    if job is None:
        known = ", ".join(sorted(JOBS))
        raise KeyError(f"unknown job {name!r}; jobs: {known}")
    return job.run(deps, now=now, dry_run=dry_run)


def start_jobs(deps: Deps) -> BackgroundScheduler:
    # misfire_grace_time: APScheduler 3 drops a run more than 1 s late by default; a busy
    # minute must delay a run, not lose it. coalesce + max_instances: never two at once.
    scheduler = BackgroundScheduler(
        timezone=deps.settings.tz,
        job_defaults={"misfire_grace_time": 300, "coalesce": True, "max_instances": 1},
    )
    for name, job in JOBS.items():
        scheduler.add_job(_runner(name, deps), job.trigger(deps), id=name, name=name)
        if job.at_start:
            scheduler.add_job(_runner(name, deps), id=f"{name}@start", name=name)
    scheduler.start()
    return scheduler


def _runner(name: str, deps: Deps) -> Callable[[], None]:
    def run() -> None:
        run_job(name, deps, now=deps.clock())

    return run
