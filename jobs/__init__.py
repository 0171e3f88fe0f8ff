"""Scheduled jobs: one module per job, listed in JOBS with its trigger, and running one (by
name, by hand, on its interval). When scheduled jobs are owed, and running an occurrence
once, is the rule in jobs/rules.py; jobs/scheduler.py ticks them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.deps import Deps
from bot.store import NotLeading
from jobs import (
    alerts,
    backup,
    card_sync,
    digests,
    health_monitor,
    incident_timers,
    oncall_handover,
    oncall_post,
    security_audit,
)
from jobs.rules import (
    CATCH_UP,
    DST_SHIFT,
    INSTALLED_KEY,
    MAX_OCCURRENCES,
    due_runs,
    held,
    installed_at,
    last_due,
    occurrences,
    report_failure,
    run_occurrence,
)

log = logging.getLogger(__name__)

__all__ = [
    "CATCH_UP",
    "DST_SHIFT",
    "INSTALLED_KEY",
    "JOBS",
    "MAX_OCCURRENCES",
    "Job",
    "describe_jobs",
    "due_runs",
    "held",
    "installed_at",
    "last_due",
    "occurrences",
    "report_failure",
    "run_by_hand",
    "run_interval_job",
    "run_job",
    "run_occurrence",
    "scheduled_run",
]


@dataclass(frozen=True)
class Job:
    run: Callable[..., str]
    trigger: Callable[[Deps], Any]
    description: str


JOBS: dict[str, Job] = {
    "card-sync": Job(
        card_sync.run,
        lambda deps: IntervalTrigger(minutes=1),
        "post the card of any open incident that has none",
    ),
    "incident-timers": Job(
        incident_timers.run,
        lambda deps: IntervalTrigger(seconds=30),
        "escalate missed response targets, refresh cards, send incident reminders",
    ),
    "oncall-handover": Job(
        oncall_handover.run,
        lambda deps: IntervalTrigger(minutes=1),
        "announce a change of who is on call; sync the on-call user group",
    ),
    "health-monitor": Job(
        health_monitor.run,
        lambda deps: IntervalTrigger(minutes=deps.settings.health.monitor_minutes),
        "run the health checks, keep readings, alert on warning/critical and recovery",
    ),
    "heartbeat-check": Job(
        alerts.check_heartbeats,
        lambda deps: IntervalTrigger(minutes=1),
        "raise an alert for each heartbeat past its interval and grace",
    ),
    "self-heartbeat": Job(
        alerts.self_heartbeat,
        lambda deps: IntervalTrigger(minutes=1),
        "ping self_heartbeat_url while opsbot is healthy (an outside dead-man switch)",
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
    deps.store.jobs.claim_run(name, now, now, deps.outbox.owner)
    try:
        with held(deps, name, now):
            summary = run_job(name, deps, now=now, **extra)
    except Exception as exc:
        deps.store.jobs.finish_run(name, now, "failed by hand", type(exc).__name__, deps.clock())
        raise
    deps.store.jobs.finish_run(name, now, "ok by hand", summary, deps.clock())
    return summary


def scheduled_run(name: str, deps: Deps, now: datetime) -> str | None:
    """The occurrence of `name` due at or before `now`, if not run yet."""
    due = last_due(JOBS[name].trigger(deps), now)
    return run_occurrence(name, deps, due) if due else None


def run_interval_job(name: str, deps: Deps) -> None:
    """One tick; with several processes on one database, the one that claims it runs it."""
    now = deps.clock()
    interval = JOBS[name].trigger(deps).interval
    try:  # a claim the database could not take (busy, full) is reported like a failed run
        if not deps.store.jobs.claim_tick(name, now, interval, deps.outbox.owner):
            return
        run_job(name, deps, now=now)
        deps.store.set_state(f"job.failing.{name}", "")
    except NotLeading:  # another process leads now and runs it
        log.warning("%s: stopped, this process no longer leads", name)
    except Exception as exc:  # reported in channel, not only logged
        report_failure(name, deps, exc)


def next_runs(deps: Deps, now: datetime) -> list[tuple[datetime, str]]:
    """Each job's next run after `now`, soonest first."""
    upcoming = []
    for name, job in JOBS.items():
        fire: datetime | None = job.trigger(deps).get_next_fire_time(None, now)
        if fire is not None:
            upcoming.append((fire, name))
    return sorted(upcoming)


def describe_jobs(deps: Deps, now: datetime) -> list[tuple[str, str, str, str]]:
    """Each job: name, description, last run, next run."""
    rows = []
    for name, job in JOBS.items():
        trigger = job.trigger(deps)
        upcoming = trigger.get_next_fire_time(None, now)
        last = deps.store.jobs.last_run(name)
        last_text = (
            f"{last.scheduled_for:%Y-%m-%dT%H:%M} {last.status}"
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
