"""Scheduled jobs: one module per job, listed in JOBS with its trigger."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import posting
from bot.deps import Deps
from bot.outbox import owner_gone
from bot.replies import describe
from bot.store.job_runs import RUN_LEASE, RUN_RENEW, JobRun
from commands.alerts.service import beat
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

log = logging.getLogger(__name__)


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
    deps.store.claim_run(name, now, now, deps.outbox.owner)
    try:
        with held(deps, name, now):
            summary = run_job(name, deps, now=now, **extra)
    except Exception as exc:
        deps.store.finish_run(name, now, "failed by hand", type(exc).__name__, deps.clock())
        raise
    deps.store.finish_run(name, now, "ok by hand", summary, deps.clock())
    return summary


CATCH_UP = timedelta(hours=24)  # an occurrence missed while down runs on return, if this recent
INSTALLED_KEY = "jobs.installed_at"  # the first start of the scheduler on this database
DST_SHIFT = timedelta(hours=3)  # more than any zone's clock change
MAX_OCCURRENCES = 1000  # a job's occurrences looked at in one go (three years of a daily job)


def occurrences(trigger: CronTrigger, after: datetime, until: datetime) -> list[datetime]:
    """The instants (UTC) `trigger` falls due strictly after `after`, up to `until`.

    The arithmetic is on UTC instants, never on wall times plus a delta: adding a microsecond
    to the second 02:30 of an autumn night (fold=1) in the zone's wall clock gives the first
    02:30 again, and the search never ends. A wall time that happens twice runs once (the
    first); one skipped by a spring change runs at the instant APScheduler maps it to (03:30).
    The search starts a DST shift earlier: asked from 03:10 on that spring day, APScheduler
    would skip the 02:30-that-is-03:30 still to come.
    """
    found: list[datetime] = []
    after = after.astimezone(UTC)
    cursor = after - DST_SHIFT
    while len(found) < MAX_OCCURRENCES:
        moment = trigger.get_next_fire_time(None, cursor)
        if moment is None:
            break
        instant = moment.astimezone(UTC)
        if instant > until:
            break
        if instant <= cursor - timedelta(microseconds=1):  # never step back: no endless loop
            cursor += timedelta(minutes=1)
            continue
        if instant > after and not _repeated_wall_time(moment):
            found.append(instant)
        cursor = instant + timedelta(microseconds=1)
    return found


def _repeated_wall_time(moment: datetime) -> bool:
    """The second of two instants showing the same wall time (the autumn night's 02:30)."""
    if not moment.fold:
        return False
    first = moment.replace(fold=0)
    return first.astimezone(UTC) != moment.astimezone(UTC)


def last_due(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest occurrence at or before `now`, looking back CATCH_UP."""
    found = occurrences(trigger, now - CATCH_UP, now)
    return found[-1] if found else None


def installed_at(deps: Deps, now: datetime) -> datetime:
    """When this database's scheduler first ran: occurrences due before it are not owed."""
    known = deps.store.state(INSTALLED_KEY)  # a read at every tick; the write only once
    if known:
        return datetime.fromisoformat(known)
    with deps.store.atomic():
        known = deps.store.state(INSTALLED_KEY)
        if known:
            return datetime.fromisoformat(known)
        # a database from before this was recorded: its first job run is the install
        since = min(deps.store.first_run_at() or now, now)
        deps.store.set_state(INSTALLED_KEY, since.astimezone(UTC).isoformat())
    return since


def due_runs(deps: Deps, now: datetime) -> list[tuple[datetime, str]]:
    """The one rule for scheduled jobs, run at every tick of the scheduler (and so at start).

    For each job, every occurrence due after the install and after the last one settled is
    either owed a run now (the latest, when within CATCH_UP: returned, oldest first across
    jobs, so a digest runs before its nudge) or recorded as missed and said in the digest
    channel once. Nothing due after the install is skipped silently."""
    since_install = installed_at(deps, now)
    me = deps.outbox.owner
    cut = deps.store.cut_short(now, lambda owner: owner_gone(owner, me))
    owed: list[tuple[datetime, str]] = []
    missed: list[tuple[str, datetime]] = []
    for name, job in JOBS.items():
        trigger = job.trigger(deps)
        if not isinstance(trigger, CronTrigger):
            continue
        settled = deps.store.last_settled_run(name)
        after = max(since_install, settled) if settled else since_install
        due = occurrences(trigger, after, now)
        if not due:
            continue
        if now - due[-1] <= CATCH_UP:
            owed.append((due[-1], name))
            due = due[:-1]
        missed += [(name, moment) for moment in due]
    again = {(run.job, run.scheduled_for) for run in cut}
    missed = [(name, moment) for name, moment in missed if (name, moment) not in again]
    if missed:
        _report_missed(deps, missed, now)
    if cut:
        _report_cut_short(deps, cut, {(name, due) for due, name in owed}, now)
    return sorted(owed)


def _report_cut_short(
    deps: Deps, cut: list[JobRun], owed: set[tuple[str, datetime]], now: datetime
) -> None:
    """Runs cut short (opsbot stopped or died while they ran): said in the digest channel;
    one still owed runs again now, any other is settled as cut short."""
    tz = deps.settings.tz
    lines = []
    with deps.store.atomic():
        for run in cut:
            when = f"{run.scheduled_for.astimezone(tz):%a %d %b %H:%M %Z}"
            if (run.job, run.scheduled_for) in owed:
                lines.append(f"• `{run.job}` due {when}: running it again now")
                continue
            deps.store.finish_run(run.job, run.scheduled_for, "cut short", "opsbot stopped", now)
            lines.append(
                f"• `{run.job}` of {when}: not run again (a later run is due, or it is too "
                f"old); `opsbot run-job {run.job}` runs it now"
            )
        text = ":warning: opsbot stopped while these jobs ran, so they did not finish:\n" + (
            "\n".join(lines)
        )
        posting.enqueue_post(deps, deps.settings.digest_target, {"text": text})


def _report_missed(deps: Deps, missed: list[tuple[str, datetime]], now: datetime) -> None:
    tz = deps.settings.tz
    by_job: dict[str, list[datetime]] = {}
    for name, moment in missed:
        by_job.setdefault(name, []).append(moment)
    lines = []
    for name, moments in by_job.items():
        first = moments[0].astimezone(tz)
        when = f"{first:%a %d %b %H:%M %Z}"
        if len(moments) > 1:
            when = f"{len(moments)} times, {when} to {moments[-1].astimezone(tz):%a %d %b %H:%M}"
        lines.append(f"• `{name}` due {when}: `opsbot run-job {name}` runs it now")
    text = (
        ":warning: opsbot was not running when these scheduled jobs fell due, longer ago "
        f"than it catches up ({CATCH_UP.total_seconds() / 3600:.0f} h), so they did not run:\n"
        + "\n".join(lines)
    )
    with deps.store.atomic():
        for name, moment in missed:
            if deps.store.claim_run(name, moment, now):
                deps.store.finish_run(name, moment, "missed", "the bot was not running", now)
        posting.enqueue_post(deps, deps.settings.digest_target, {"text": text})


def run_occurrence(name: str, deps: Deps, due: datetime) -> str | None:
    """Run the occurrence due at `due`, exactly once (a claim in the store), as of `due`:
    a digest caught up on Friday for Thursday is Thursday's digest."""
    if not deps.store.claim_run(name, due, deps.clock(), deps.outbox.owner):
        return None
    try:
        with held(deps, name, due):
            summary = JOBS[name].run(deps, now=due)
    except Exception as exc:
        deps.store.finish_run(name, due, "failed", type(exc).__name__, deps.clock())
        report_failure(name, deps, exc)
        return None
    deps.store.finish_run(name, due, "ok", summary, deps.clock())
    deps.store.set_state(f"job.failing.{name}", "")
    beat(deps, f"job:{name}", deps.clock())  # heartbeats may watch opsbot's own jobs
    return summary


@contextmanager
def held(deps: Deps, name: str, due: datetime) -> Iterator[None]:
    """While a run goes on, its claim is renewed: another process (or this one after a
    restart) takes it for cut short only once its owner is gone or stops renewing."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RUN_RENEW.total_seconds()):
            until = deps.clock() + RUN_LEASE
            try:
                deps.store.renew_run(name, due, deps.outbox.owner, until)
            except Exception:  # a busy file now and then: the lease has room for it
                log.warning("could not renew the claim on %s", name, exc_info=True)

    thread = threading.Thread(target=renew, name=f"opsbot-renew-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def scheduled_run(name: str, deps: Deps, now: datetime) -> str | None:
    """The occurrence of `name` due at or before `now`, if not run yet."""
    due = last_due(JOBS[name].trigger(deps), now)
    return run_occurrence(name, deps, due) if due else None


def run_interval_job(name: str, deps: Deps) -> None:
    try:
        run_job(name, deps, now=deps.clock())
        deps.store.set_state(f"job.failing.{name}", "")
    except Exception as exc:  # reported in channel, not only logged
        report_failure(name, deps, exc)


def report_failure(name: str, deps: Deps, exc: Exception) -> None:
    """Say it in the channel, once per failing streak, with a reference to the log."""
    text = describe(exc, log)
    if deps.store.state(f"job.failing.{name}"):
        return
    message = f":warning: The scheduled job `{name}` failed: {text} It will try again."
    with deps.store.atomic():
        deps.store.set_state(f"job.failing.{name}", "yes")
        posting.enqueue_post(deps, deps.settings.digest_target, {"text": message})


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
