"""Scheduled work on real calendars: every occurrence due after the install is run once,
caught up once, or reported missed once; nothing hangs on a DST night. The clock is the
injectable one; the jobs are stubs that record the day they ran for."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

import jobs
from bot.config import Settings
from bot.deps import Deps
from bot.store import Store
from bot.tools.localslack import LocalSlack
from jobs import CATCH_UP, JOBS, due_runs, last_due, occurrences, run_occurrence
from tests.conftest import Clock, make_deps

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.timeout(10)
def test_the_autumn_night_neither_hangs_nor_runs_twice() -> None:
    """02:30 happens twice in Berlin on 2026-10-25; the job runs once, at the first."""
    trigger = CronTrigger(day_of_week="0,1,2,3,4,5,6", hour=2, minute=30, timezone=BERLIN)
    assert last_due(trigger, datetime(2026, 10, 25, 1, 31, tzinfo=UTC)) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    night = occurrences(
        trigger, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 12, tzinfo=UTC)
    )
    assert night == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST; 02:30 CET (01:30 UTC) is not
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]


@pytest.mark.timeout(10)
def test_the_spring_gap_runs_at_the_first_instant_after_it() -> None:
    """02:30 does not exist in Berlin on 2027-03-28: that day's run is at 03:30 CEST, and a
    process started at 03:10 still owes it."""
    trigger = CronTrigger(day_of_week="0,1,2,3,4,5,6", hour=2, minute=30, timezone=BERLIN)
    gap_day = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert occurrences(trigger, datetime(2027, 3, 28, 1, 10, tzinfo=UTC), gap_day) == [gap_day]
    assert last_due(trigger, datetime(2027, 3, 28, 1, 10, tzinfo=UTC)) == datetime(
        2027, 3, 27, 1, 30, tzinfo=UTC
    )


class Recorder:
    """Every scheduled job replaced by a stub that records the instant it ran for."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, datetime]] = []

    def stub(self, name: str) -> Any:
        def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
            self.ran.append((name, now))
            return "ran"

        return run


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    record = Recorder()
    saved = dict(JOBS)
    for name, job in saved.items():
        JOBS[name] = replace(job, run=record.stub(name))
    yield record
    JOBS.clear()
    JOBS.update(saved)


def world(
    settings: Settings, store: Store, slack: LocalSlack, start: datetime, zone: str
) -> tuple[Deps, Clock]:
    clock = Clock(start)
    return make_deps(settings.model_copy(update={"timezone": zone}), store, slack, clock), clock


def tick(deps: Deps, clock: Clock) -> None:
    """What a scheduler tick does for scheduled jobs (jobs/scheduler.py)."""
    for due, name in due_runs(deps, clock()):
        run_occurrence(name, deps, due)


def scheduled_names(deps: Deps) -> list[str]:
    return [n for n, j in JOBS.items() if isinstance(j.trigger(deps), CronTrigger)]


def test_installed_then_down_for_weeks(
    settings: Settings, store: Store, slack: LocalSlack, recorder: Recorder
) -> None:
    """Installed Mon 2026-12-07 10:00, stopped, back Fri 2027-01-01 11:00: the occurrences of
    the last 24 h are caught up, each as of its own day, oldest first; every earlier one is
    recorded missed and said in one message; nothing is "before the first start"."""
    deps, clock = world(settings, store, slack, datetime(2026, 12, 7, 10, 0, tzinfo=UTC), "UTC")
    tick(deps, clock)  # the first start: nothing is owed from before it
    assert recorder.ran == []
    clock.now = datetime(2027, 1, 1, 11, 0, tzinfo=UTC)
    tick(deps, clock)
    caught_up = {name: when for name, when in recorder.ran}
    assert caught_up["maintenance-log"] == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert caught_up["daily-digest"] == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    assert caught_up["monthly-digest"] == datetime(2027, 1, 1, 9, 15, tzinfo=UTC)
    assert caught_up["quarterly-digest"] == datetime(2027, 1, 1, 10, 0, tzinfo=UTC)
    for name in ("security-audit", "backup-restore-test", "db-review", "backup-nightly"):
        assert name in caught_up, name
    assert [when for _, when in recorder.ran] == sorted(when for _, when in recorder.ran)
    deps.outbox.drain()
    [notice] = [m.text for m in slack.history("#incidents") if "did not run" in m.text]
    assert "`daily-digest` due 18 times" in notice and "`backup-verify` due 3 times" in notice
    assert "opsbot run-job daily-digest" in notice
    with deps.store._connect() as db:  # noqa: SLF001
        statuses = {row[0] for row in db.exec_driver_sql("SELECT status FROM job_runs")}
    assert statuses == {"ok", "missed"}
    tick(deps, clock)  # a second tick owes nothing and says nothing more
    assert len(recorder.ran) == len(caught_up)
    deps.outbox.drain()
    assert len([m for m in slack.history("#incidents") if "did not run" in m.text]) == 1


def test_a_catch_up_runs_for_its_own_day_then_todays_runs_on_time(
    settings: Settings, store: Store, slack: LocalSlack, recorder: Recorder
) -> None:
    """Down over Thursday's 09:00 digest and 12:00 nudge, back Friday 08:00: Thursday's digest
    then Thursday's nudge (in that order), then Friday's own at 09:00."""
    deps, clock = world(settings, store, slack, datetime(2026, 12, 7, 10, 0, tzinfo=UTC), "UTC")
    tick(deps, clock)
    clock.now = datetime(2026, 12, 11, 8, 0, tzinfo=UTC)  # Friday 08:00
    tick(deps, clock)
    daily = [(n, w) for n, w in recorder.ran if n in ("daily-digest", "digest-nudge")]
    assert daily == [
        ("daily-digest", datetime(2026, 12, 10, 9, 0, tzinfo=UTC)),
        ("digest-nudge", datetime(2026, 12, 10, 12, 0, tzinfo=UTC)),
    ]
    clock.now = datetime(2026, 12, 11, 9, 0, 5, tzinfo=UTC)
    tick(deps, clock)
    assert ("daily-digest", datetime(2026, 12, 11, 9, 0, tzinfo=UTC)) in recorder.ran


@pytest.mark.timeout(60)
@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_random_up_and_down_across_dst_and_year_end(
    settings: Settings, store: Store, slack: LocalSlack, recorder: Recorder, zone: str
) -> None:
    """Up or down at random over both DST changes and New Year: every occurrence after the
    install is run once or missed once, never both, never twice, never silently; an
    occurrence owed while the bot was up runs as of its own due time."""
    rng = random.Random(zone)
    windows = [  # both DST changes of both zones, and a month end into the New Year
        (datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)),
        (datetime(2026, 12, 29, tzinfo=UTC), datetime(2027, 1, 3, tzinfo=UTC)),
        (datetime(2027, 3, 12, tzinfo=UTC), datetime(2027, 3, 16, tzinfo=UTC)),
        (datetime(2027, 3, 26, tzinfo=UTC), datetime(2027, 4, 2, tzinfo=UTC)),
    ]
    deps, clock = world(settings, store, slack, windows[0][0], zone)
    up_at: list[datetime] = []
    for begin, end in windows:  # down between the windows
        clock.now = begin
        while clock.now < end:
            up = rng.random() < 0.7
            for _ in range(rng.randint(1, 30)):  # a run of up or down half-hours
                if up:
                    tick(deps, clock)
                    up_at.append(clock.now)
                clock.advance(minutes=30)
    with deps.store._connect() as db:  # noqa: SLF001
        rows = db.exec_driver_sql("SELECT job, scheduled_for, status FROM job_runs").fetchall()
    settled = {(job, datetime.fromisoformat(at)): status for job, at, status in rows}
    assert len(settled) == len(rows)  # one row per occurrence
    ran = {(name, when) for name, when in recorder.ran}
    assert len(ran) == len(recorder.ran)  # nothing ran twice
    for name in scheduled_names(deps):
        trigger = JOBS[name].trigger(deps)
        for due in occurrences(trigger, up_at[0], up_at[-1]):
            status = settled.get((name, due))
            assert status in ("ok", "missed"), (name, due)
            assert (status == "ok") == ((name, due) in ran), (name, due)
            seen_up = any(due <= t <= due + timedelta(minutes=30) for t in up_at)
            if seen_up:  # up within half an hour of it falling due: it ran
                assert status == "ok", (name, due)


def test_the_old_per_job_first_start_rule_is_gone() -> None:
    assert not hasattr(jobs, "skip_before_first_start") and not hasattr(jobs, "start_jobs")
    assert timedelta(hours=24) == CATCH_UP


def test_the_bots_clock_never_runs_backwards_and_meets_the_wall_again() -> None:
    """Stepped back 4 minutes, it goes on at 90 % pace until the wall catches up; a step
    forward is followed at once."""
    from bot.steady import SteadyClock

    wall, mono = [datetime(2026, 12, 7, 10, 0, tzinfo=UTC)], [0.0]

    def advance(seconds: float, step: float = 0.0) -> None:
        mono[0] += seconds
        wall[0] += timedelta(seconds=seconds + step)

    clock = SteadyClock(lambda: wall[0], lambda: mono[0])
    seen = [clock()]
    advance(60, step=-240)  # a minute later the system clock is set back 4 minutes
    for _ in range(60 * 60):
        seen.append(clock())
        advance(1)
    assert seen == sorted(seen)  # never backwards
    assert seen[1] == seen[0] + timedelta(seconds=54)  # 60 s at 90 % pace
    assert seen[-1] == wall[0] - timedelta(seconds=1)  # met the wall within the hour
    advance(1, step=3600)
    assert clock() == wall[0]


def test_a_p0_page_fires_on_time_though_the_wall_clock_steps_back(
    tmp_path: Any, slack: LocalSlack
) -> None:
    """The scheduler's ticks are on the monotonic clock and the bot's time never runs back:
    a 4-minute step back just before a P0's 15-minute target delays its page by less than a
    minute of real time."""
    from bot.domain.incidents.outcome import publish
    from bot.steady import SteadyClock
    from commands.incident import parse as p
    from commands.incident.handlers import execute
    from jobs import scheduler as scheduling

    wall, mono = [datetime(2026, 12, 7, 10, 0, tzinfo=UTC)], [1000.0]
    clock = SteadyClock(lambda: wall[0], lambda: mono[0])
    settings = Settings(opsbot_db=tmp_path / "opsbot.db")
    store = Store(settings.opsbot_db)
    store.migrate()
    deps = make_deps(settings, store, slack, clock)  # type: ignore[arg-type]
    with deps.store.atomic():
        publish(
            execute(p.parse("open P0 Checkout down", ("P0", "P1", "P2", "P3")), deps, actor="U1"),
            deps,
        )
    saved = dict(JOBS)  # the timers alone: the rest is not what this is about
    JOBS.clear()
    JOBS["incident-timers"] = saved["incident-timers"]
    runner = scheduling.Scheduler(deps)
    real = scheduling.time.monotonic
    scheduling.time.monotonic = lambda: mono[0]  # type: ignore[assignment]
    try:
        paged_after = None
        for second in range(0, 20 * 60, 5):  # 20 minutes of real time, a tick each 5 s
            if second == 14 * 60:
                wall[0] -= timedelta(minutes=4)  # the system clock is set back
            runner.tick(inline=True)
            if store.incidents.incident(1).breached_at and paged_after is None:
                paged_after = second
            mono[0] += 5
            wall[0] += timedelta(seconds=5)
    finally:
        scheduling.time.monotonic = real  # type: ignore[assignment]
        JOBS.update(saved)
        deps.pools.shutdown()
    assert paged_after is not None and 15 * 60 <= paged_after < 16 * 60
