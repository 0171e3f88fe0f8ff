from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.domain.incidents import alarms, service, timers
from bot.store import Incident
from tests.conftest import T0

FRIDAY_10 = T0  # 2026-11-27 10:00 UTC is a Friday


def incident(severity: str = "P0", **extra) -> Incident:  # type: ignore[no-untyped-def]
    return Incident(1, "Down", severity, "open", "U1", "U1", T0, **extra)


@pytest.mark.parametrize(
    ("minutes_in", "next_in"),
    [(0, 5), (14, 19), (45, 46), (50, 51), (59, 60), (60, None)],
)
def test_card_refresh_cadence_for_a_p1(minutes_in: int, next_in: int | None) -> None:
    """Every 5 min while over 15 min are left, every minute after, never past the deadline."""
    p1 = incident("P1")
    due = timers.next_refresh(p1, Settings(), T0 + timedelta(minutes=minutes_in))
    assert due == (T0 + timedelta(minutes=next_in) if next_in is not None else None)


def test_long_targets_refresh_every_half_hour() -> None:
    """A P3's 24 h target is refreshed every 30 minutes, not every minute."""
    assert timers.next_refresh(incident("P3"), Settings(), T0) == T0 + timedelta(minutes=30)


def test_acknowledged_incidents_need_no_countdown() -> None:
    """Once acknowledged there is nothing to count down to."""
    acked = incident(acked_at=T0 + timedelta(minutes=2))
    assert timers.next_refresh(acked, Settings(), T0 + timedelta(minutes=3)) is None


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2026, 11, 27, 10, 30, tzinfo=UTC), datetime(2026, 11, 27, 10, 30, tzinfo=UTC)),
        (datetime(2026, 11, 27, 18, 30, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
        (datetime(2026, 11, 30, 7, 15, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
    ],
)
def test_working_slot(after: datetime, expected: datetime) -> None:
    """Nudges wait for the next weekday between 09:00 and 18:00."""
    assert timers.next_working_slot(after, Settings()) == expected


def test_working_hours_are_in_the_teams_zone() -> None:
    """09:00 in Berlin is 08:00 UTC in winter."""
    settings = Settings(timezone="Europe/Berlin")
    slot = timers.next_working_slot(datetime(2026, 11, 30, 6, 0, tzinfo=UTC), settings)
    assert slot.astimezone(UTC) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_open_arms_by_severity() -> None:
    """P0/P1 get status reminders; P2/P3 get the daily still-open nudge instead."""
    p0 = timers.on_open(incident("P0"), Settings(), T0)
    assert p0[timers.ACK_DEADLINE] == T0 + timedelta(minutes=15)
    assert p0[timers.STATUS_REMINDER] == T0 + timedelta(minutes=30)
    assert p0[timers.STILL_OPEN] is None
    p3 = timers.on_open(incident("P3"), Settings(), T0)
    assert p3[timers.STATUS_REMINDER] is None
    assert p3[timers.STILL_OPEN] == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday


@pytest.mark.both_engines
def test_breach_is_recorded_once(store, settings, clock) -> None:
    """The first firing records the breach; later ones, or after an ack, do nothing."""
    service.open_incident(store, settings, title="Down", severity="P0", actor="U1", now=clock())
    assert alarms.breach(store, settings, 1, now=clock.advance(minutes=15)) is not None
    assert alarms.breach(store, settings, 1, now=clock.advance(minutes=1)) is None
    assert [e.kind for e in store.incidents.timeline(1)].count("breach") == 1
    assert store.incidents.timers(1).get(timers.ACK_DEADLINE) is None


@pytest.mark.both_engines
def test_lowered_severity_moves_the_deadline(store, settings, clock) -> None:
    """P0 lowered to P2 before 15 min: the old timer firing re-arms for the 4 h target."""
    service.open_incident(store, settings, title="Down", severity="P0", actor="U1", now=clock())
    service.set_severity(store, settings, 1, "P2", actor="U1", now=clock.advance(minutes=5))
    assert store.incidents.timers(1)[timers.ACK_DEADLINE] == T0 + timedelta(hours=4)
    assert alarms.breach(store, settings, 1, now=clock.advance(minutes=11)) is None
    assert store.incidents.timers(1)[timers.ACK_DEADLINE] == T0 + timedelta(hours=4)


def test_raised_severity_can_breach_at_once(store, settings, clock) -> None:
    """P3 raised to P0 after 20 unacknowledged minutes is already past its new target."""
    service.open_incident(store, settings, title="Down", severity="P3", actor="U1", now=clock())
    service.set_severity(store, settings, 1, "P0", actor="U1", now=clock.advance(minutes=20))
    assert store.incidents.timers(1)[timers.ACK_DEADLINE] == T0 + timedelta(minutes=15)
    assert store.incidents.due_timers(clock())[0].kind == timers.ACK_DEADLINE
    assert alarms.breach(store, settings, 1, now=clock()) is not None


@pytest.mark.both_engines
def test_the_most_severe_incidents_timers_fire_first(deps, clock) -> None:  # type: ignore[no-untyped-def]
    """Ten P2s passed their target before a P0 passed its own: the P0's breach and page are
    written first, not after all of theirs."""
    from jobs import incident_timers

    store, settings = deps.store, deps.settings
    for n in range(10):
        service.open_incident(
            store, settings, title=f"P2 {n}", severity="P2", actor="U1", now=clock()
        )
    clock.advance(hours=4)  # the P2s' 4 h target is behind them
    p0 = service.open_incident(
        store, settings, title="Down", severity="P0", actor="U1", now=clock()
    )
    now = clock.advance(minutes=16)
    due = store.incidents.due_timers(now)
    assert due[0].severity == "P2" and any(t.severity == "P0" for t in due)  # oldest first
    incident_timers.run(deps, now=now)
    pages = [e for e in store.outbox.effects(("pending",), limit=500) if e.kind == "incident.page"]
    assert pages and pages[0].incident == p0.number
