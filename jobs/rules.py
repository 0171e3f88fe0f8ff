"""The one rule for scheduled jobs: which occurrences are owed at a tick, which were missed
or cut short (said in the digest channel), and running an occurrence exactly once.

The table of jobs (JOBS) is in jobs/__init__.py, which imports this module: the two
functions that read the table import it when they run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from bot import posting
from bot.deps import Deps
from bot.owners import owner_gone
from bot.replies import describe
from bot.store import NotLeading
from bot.store.job_runs import RUN_LEASE, RUN_RENEW, JobRun
from commands.alerts.heartbeats import beat

log = logging.getLogger(__name__)


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
        since = min(deps.store.jobs.first_run_at() or now, now)
        deps.store.set_state(INSTALLED_KEY, since.astimezone(UTC).isoformat())
    return since


def due_runs(deps: Deps, now: datetime) -> list[tuple[datetime, str]]:
    """The one rule for scheduled jobs, run at every tick of the scheduler (and so at start).

    For each job, every occurrence due after the install and after the last one settled is
    either owed a run now (the latest, when within CATCH_UP: returned, oldest first across
    jobs, so a digest runs before its nudge) or recorded as missed and said in the digest
    channel once. Nothing due after the install is skipped silently."""
    from jobs import JOBS  # read when run: jobs/__init__.py imports this module

    since_install = installed_at(deps, now)
    me = deps.outbox.owner
    cut = deps.store.jobs.cut_short(now, lambda owner: owner_gone(owner, me))
    owed: list[tuple[datetime, str]] = []
    missed: list[tuple[str, datetime]] = []
    last_settled = deps.store.jobs.last_settled_runs()
    for name, job in JOBS.items():
        trigger = job.trigger(deps)
        if not isinstance(trigger, CronTrigger):
            continue
        settled = last_settled.get(name)
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
            deps.store.jobs.finish_run(
                run.job, run.scheduled_for, "cut short", "opsbot stopped", now
            )
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
            if deps.store.jobs.claim_run(name, moment, now):
                deps.store.jobs.finish_run(name, moment, "missed", "the bot was not running", now)
        posting.enqueue_post(deps, deps.settings.digest_target, {"text": text})


def run_occurrence(name: str, deps: Deps, due: datetime) -> str | None:
    """Run the occurrence due at `due`, exactly once (a claim in the store), as of `due`:
    a digest caught up on Friday for Thursday is Thursday's digest."""
    from jobs import JOBS  # read when run: jobs/__init__.py imports this module

    if not deps.store.jobs.claim_run(name, due, deps.clock(), deps.outbox.owner):
        return None
    try:
        with held(deps, name, due):
            summary = JOBS[name].run(deps, now=due)
    except NotLeading:  # another process leads now: it runs this again, this one writes nothing
        log.warning("%s due %s: stopped, this process no longer leads", name, due)
        return None
    except Exception as exc:
        deps.store.jobs.finish_run(name, due, "failed", type(exc).__name__, deps.clock())
        report_failure(name, deps, exc)
        return None
    deps.store.jobs.finish_run(name, due, "ok", summary, deps.clock())
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
                deps.store.jobs.renew_run(name, due, deps.outbox.owner, until)
            except Exception:  # a busy file now and then: the lease has room for it
                log.warning("could not renew the claim on %s", name, exc_info=True)

    thread = threading.Thread(target=renew, name=f"opsbot-renew-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def report_failure(name: str, deps: Deps, exc: Exception) -> None:
    """Say it in the channel, once per failing streak, with a reference to the log."""
    text = describe(exc, log)
    if deps.store.state(f"job.failing.{name}"):
        return
    message = f":warning: The scheduled job `{name}` failed: {text} It will try again."
    with deps.store.atomic():
        deps.store.set_state(f"job.failing.{name}", "yes")
        posting.enqueue_post(deps, deps.settings.digest_target, {"text": message})
