"""Scheduled jobs: one module per job, listed in JOBS with its trigger."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import outbox
from bot.deps import Deps
from bot.replies import describe
from jobs import (
    backup,
    card_sync,
    digests,
    health_monitor,
    incident_timers,
    oncall_handover,
    oncall_post,
    security_audit,
)

log = logging.getLogger(__name__)


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
    "daily-digest": Job(
        digests.daily,
        lambda deps: _daily(deps, deps.settings.digest.daily_time, deps.settings.digest.daily_days),
        "the plan's daily checks: error logs, health, feedback, on call, incidents, backups",
    ),
    "digest-nudge": Job(
        digests.nudge,
        lambda deps: _daily(
            deps, deps.settings.digest.review_cutoff, deps.settings.digest.daily_days
        ),
        "nudge the on-call person when today's daily digest has no review by the cut-off",
    ),
    "weekly-digest": Job(
        digests.weekly,
        lambda deps: _daily(deps, deps.settings.digest.weekly_time, [0]),
        "Mondays: dependencies (npm), backup checks, performance, open bugs, weekly tasks",
    ),
    "monthly-digest": Job(
        digests.monthly,
        lambda deps: CronTrigger(day=1, hour=9, minute=15, timezone=deps.settings.tz),
        "1st of the month: database review, security audit, the monthly task checklist",
    ),
    "security-audit": Job(
        security_audit.run,
        lambda deps: CronTrigger(day=1, hour=6, timezone=deps.settings.tz),
        "1st of the month: npm audit, secrets, headers and CORS, rate limiting, auth logs, code",
    ),
    "quarterly-digest": Job(
        digests.quarterly,
        lambda deps: CronTrigger(month="1,4,7,10", day=1, hour=10, timezone=deps.settings.tz),
        "the plan's quarterly task checklist",
    ),
    "annual-digest": Job(
        digests.annual,
        lambda deps: CronTrigger(month=1, day=2, hour=10, timezone=deps.settings.tz),
        "the plan's annual task checklist",
    ),
    "maintenance-log": Job(
        digests.maintenance_log,
        lambda deps: CronTrigger(day="last", hour=17, timezone=deps.settings.tz),
        "last day of the month: post the plan's Maintenance Log from what was recorded",
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


def run_job(name: str, deps: Deps, *, now: datetime, dry_run: bool = False, **extra: Any) -> str:
    job = JOBS.get(name)
    if job is None:
        known = ", ".join(sorted(JOBS))
        raise KeyError(f"unknown job {name!r}; jobs: {known}")
    return job.run(deps, now=now, dry_run=dry_run, **extra)


def run_by_hand(name: str, deps: Deps, *, dry_run: bool = False, **extra: Any) -> str:
    """`opsbot run-job` and the shell's `run`: recorded as a run by hand (so `opsbot jobs`
    shows it), and a dry run says that it changed nothing."""
    now = deps.clock()
    if dry_run:
        return run_job(name, deps, now=now, dry_run=True, **extra) + (
            "\n(dry run: nothing was posted or changed)"
        )
    deps.store.claim_run(name, now, now)
    try:
        summary = run_job(name, deps, now=now, **extra)
    except Exception as exc:
        deps.store.finish_run(name, now, "failed by hand", type(exc).__name__, deps.clock())
        raise
    deps.store.finish_run(name, now, "ok by hand", summary, deps.clock())
    return summary


CATCH_UP = timedelta(hours=24)  # a scheduled run missed while down runs once, if this recent


def last_due(trigger: Any, now: datetime) -> datetime | None:
    """The latest time `trigger` fired at or before `now`, looking back CATCH_UP."""
    due, moment = None, trigger.get_next_fire_time(None, now - CATCH_UP)
    while moment is not None and moment <= now:
        due = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return due


def scheduled_run(name: str, deps: Deps, now: datetime) -> str | None:
    """Run the occurrence of a scheduled job due at or before `now`, exactly once."""
    due = last_due(JOBS[name].trigger(deps), now)
    if due is None or not deps.store.claim_run(name, due, now):
        return None
    try:
        summary = JOBS[name].run(deps, now=now)
    except Exception as exc:
        deps.store.finish_run(name, due, "failed", type(exc).__name__, deps.clock())
        _report_failure(name, deps, exc)
        return None
    deps.store.finish_run(name, due, "ok", summary, deps.clock())
    deps.store.set_state(f"job.failing.{name}", "")
    return summary


def _report_failure(name: str, deps: Deps, exc: Exception) -> None:
    """Say it in the channel, once per failing streak, with a reference to the log."""
    text = describe(exc, log)
    if deps.store.state(f"job.failing.{name}"):
        return
    message = f":warning: The scheduled job `{name}` failed: {text} It will try again."
    with deps.store.atomic():
        deps.store.set_state(f"job.failing.{name}", "yes")
        outbox.enqueue_post(deps, deps.settings.digest_target, {"text": message})


def skip_before_first_start(deps: Deps, now: datetime) -> list[str]:
    """A job that has never run does not catch up: what fell due before opsbot was installed
    is not a missed run (nobody wants a backup and five digests at the first start)."""
    skipped = []
    for name, job in JOBS.items():
        trigger = job.trigger(deps)
        if isinstance(trigger, CronTrigger) and deps.store.last_run(name) is None:
            due = last_due(trigger, now)
            if due is not None and deps.store.claim_run(name, due, now):
                deps.store.finish_run(name, due, "skipped", "before the first start", now)
                skipped.append(name)
    return skipped


def start_jobs(deps: Deps) -> BackgroundScheduler:
    # misfire_grace_time: APScheduler 3 drops a run more than 1 s late by default; a busy
    # minute must delay a run, not lose it. coalesce + max_instances: never two at once.
    scheduler = BackgroundScheduler(
        timezone=deps.settings.tz,
        job_defaults={"misfire_grace_time": 300, "coalesce": True, "max_instances": 1},
    )
    deps.store.interrupt_runs()
    now = deps.clock()
    for name, job in JOBS.items():
        trigger = job.trigger(deps)
        if isinstance(trigger, CronTrigger) and deps.store.last_run(name) is None:
            # First start: what fell due before opsbot ever ran is not "missed"; skip it.
            due = last_due(trigger, now)
            if due is not None and deps.store.claim_run(name, due, now):
                deps.store.finish_run(name, due, "skipped", "before the first start", now)
        scheduler.add_job(_runner(name, deps), job.trigger(deps), id=name, name=name)
        if job.at_start or isinstance(job.trigger(deps), CronTrigger):
            # at start: interval jobs run once now; scheduled ones catch up a missed run
            scheduler.add_job(_runner(name, deps), id=f"{name}@start", name=name)
    scheduler.start()
    return scheduler


def run_due(deps: Deps) -> None:
    """Everything the scheduler would have run by now, once: each interval job, and the
    latest occurrence of each scheduled job not yet run. The shell's scheduler (it moves its
    clock with `wait`, which APScheduler's wall-clock timers cannot follow)."""
    for name in JOBS:
        _runner(name, deps)()


def _runner(name: str, deps: Deps) -> Callable[[], None]:
    scheduled = isinstance(JOBS[name].trigger(deps), CronTrigger)

    def run() -> None:
        if scheduled:
            scheduled_run(name, deps, deps.clock())
            return
        try:
            run_job(name, deps, now=deps.clock())
            deps.store.set_state(f"job.failing.{name}", "")
        except Exception as exc:  # reported in channel, not only logged
            _report_failure(name, deps, exc)

    return run


def describe_jobs(deps: Deps, now: datetime) -> list[tuple[str, str, str, str]]:
    """Each job: name, description, last run, next run."""
    rows = []
    for name, job in JOBS.items():
        trigger = job.trigger(deps)
        upcoming = trigger.get_next_fire_time(None, now)
        last = deps.store.last_run(name)
        last_text = (
            f"{last['scheduled_for'][:16]} {last['status']}"
            if last
            else "not recorded (runs often)"
            if not isinstance(trigger, CronTrigger)
            else "never"
        )
        rows.append(
            (
                name,
                job.description,
                last_text,
                upcoming.strftime("%Y-%m-%d %H:%M %Z") if upcoming else "—",
            )
        )
    return rows
