"""The job table: triggers parse, scheduled runs happen once, failures are said once."""

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from jobs import JOBS, last_due, scheduled_run


def test_every_trigger_builds_and_fires(deps) -> None:
    """Each job's trigger comes from settings and has a next fire time."""
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    for name, job in JOBS.items():
        assert job.trigger(deps).get_next_fire_time(None, now) is not None, name


def test_last_due_is_the_latest_fire_at_or_before_now() -> None:
    """09:00 weekdays: asked Monday 09:05, Monday's; Saturday 08:00, Friday's; a run older
    than the 24 h catch-up window is not caught up."""
    trigger = CronTrigger(day_of_week="mon-fri", hour=9, timezone=UTC)
    monday = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)
    assert last_due(trigger, monday) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert last_due(trigger, saturday) == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert last_due(trigger, saturday + timedelta(days=1)) is None


def test_a_failing_job_is_reported_once(deps, slack, clock) -> None:
    """Two failing runs in a row post one message; the failure is recorded."""

    def boom(deps, *, now, dry_run=False):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    from dataclasses import replace

    original = JOBS["oncall-post"]
    JOBS["oncall-post"] = replace(original, run=boom)
    try:
        for day in range(2):
            when = datetime(2026, 11, 30, 9, 1, tzinfo=UTC) + timedelta(days=day)
            scheduled_run("oncall-post", deps, when)
    finally:
        JOBS["oncall-post"] = original
    deps.outbox.drain()
    posts = [m.text for m in slack.history("#incidents")]
    assert len(posts) == 1 and "`oncall-post` failed" in posts[0]
    last = deps.store.jobs.last_run("oncall-post")
    assert last is not None and last.status == "failed"
