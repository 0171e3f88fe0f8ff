"""Property tests of the pure on-call model: who is on call at any instant, and when; and the
stored rotation, overrides, swaps and audit trail on both engines."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.oncall.schedule import (
    WEEK,
    Override,
    Rotation,
    anchor_for,
    on_call,
    rotation_at,
    schedule,
    shift_at,
)
from tests.conftest import T0
from tests.helpers import all_at_once

BERLIN = ZoneInfo("Europe/Berlin")
PEOPLE = st.lists(st.sampled_from(["A", "B", "C", "D", "E"]), min_size=1, max_size=5, unique=True)
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


def rotation(members: list[str], tz: ZoneInfo = BERLIN) -> Rotation:
    return Rotation(tuple(members), datetime(2026, 1, 5, 9, 0), tz)  # a Monday, 09:00


@given(PEOPLE, INSTANTS)
def test_every_instant_has_exactly_one_member(members: list[str], moment: datetime) -> None:
    """With a non-empty rotation, someone from it is on call at every instant."""
    assert rotation_at(rotation(members), moment) in members


@given(PEOPLE, INSTANTS, st.integers(1, 20))
@settings(max_examples=60)
def test_schedule_covers_the_range_without_gaps(
    members: list[str], start: datetime, weeks: int
) -> None:
    """Shifts are back to back from start to end, each agreeing with on_call."""
    end = start + weeks * WEEK
    shifts = schedule(rotation(members), [], start, end)
    assert shifts[0].start == start and shifts[-1].end == end
    for left, right in zip(shifts, shifts[1:], strict=False):
        assert left.end == right.start and left.user != right.user
    for shift in shifts:
        assert on_call(rotation(members), [], shift.start) == shift.user


@given(PEOPLE, INSTANTS, st.integers(1, 96), st.integers(0, 72))
def test_overrides_win(members: list[str], start: datetime, hours: int, probe: int) -> None:
    """Inside an override its user is on call; outside it the rotation is."""
    cover = Override(1, "Z", start, start + timedelta(hours=hours))
    moment = start + timedelta(hours=probe)
    expected = "Z" if probe < hours else rotation_at(rotation(members), moment)
    assert on_call(rotation(members), [cover], moment) == expected


@given(INSTANTS)
def test_latest_override_wins(moment: datetime) -> None:
    """Of two overlapping overrides, the one made last applies."""
    first = Override(1, "Y", moment - timedelta(hours=1), moment + timedelta(hours=1))
    second = Override(2, "Z", moment - timedelta(hours=1), moment + timedelta(hours=1))
    assert on_call(rotation(["A"]), [second, first], moment) == "Z"


@given(st.integers(0, 40), st.integers(1, 3))
def test_swaps_are_symmetric(week: int, gap: int) -> None:
    """A swap (two overrides) gives each person the other's week, and nothing else changes."""
    rot = rotation(["A", "B", "C", "D"])
    probe = datetime(2026, 1, 5, 12, 0, tzinfo=BERLIN) + week * WEEK
    mine, theirs = shift_at(rot, [], probe), shift_at(rot, [], probe + gap * WEEK)
    swap = [
        Override(1, theirs.user, mine.start, mine.end),
        Override(2, mine.user, theirs.start, theirs.end),
    ]
    assert on_call(rot, swap, mine.start) == theirs.user
    assert on_call(rot, swap, theirs.start) == mine.user
    between = probe + WEEK if gap > 1 else probe + 5 * WEEK
    assert on_call(rot, swap, between) == on_call(rot, [], between)


def test_dst_weeks_keep_the_wall_clock_handover() -> None:
    """Across both DST changes the handover stays 09:00 local; weeks are 167/169 h long."""
    rot = rotation(["A", "B"])
    start = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
    shifts = schedule(rot, [], start, start + 40 * WEEK)
    for shift in shifts[1:-1]:
        local = shift.start.astimezone(BERLIN)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    lengths = {(s.end - s.start) / timedelta(hours=1) for s in shifts[1:-1]}
    assert lengths == {167.0, 168.0, 169.0}


@given(INSTANTS)
def test_dst_never_skips_or_doubles_an_hour(moment: datetime) -> None:
    """Each instant belongs to exactly one shift, including around DST changes."""
    rot = rotation(["A", "B", "C"])
    shifts = schedule(rot, [], moment - 2 * WEEK, moment + 2 * WEEK)
    assert sum(1 for s in shifts if s.start <= moment < s.end) == 1


def test_anchor_is_the_latest_handover() -> None:
    """Set on a Wednesday, the rotation's first week began the Monday before at 09:00."""
    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert anchor_for(wednesday, BERLIN, 0, 9, 0) == datetime(2026, 11, 23, 9, 0)
    monday_early = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 08:00 Berlin
    assert anchor_for(monday_early, BERLIN, 0, 9, 0) == datetime(2026, 11, 23, 9, 0)


def test_empty_rotation_has_nobody() -> None:
    """No members and no overrides: nobody is on call and there is no schedule."""
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert on_call(rotation([]), [], now) is None
    assert schedule(rotation([]), [], now, now + WEEK) == []


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_paging_and_oncall_agree_through_the_dst_hours(tmp_path, zone: str) -> None:  # type: ignore[no-untyped-def]
    """A Sunday 02:30 handover (inside both changed hours): at every 5 minutes around both
    changes, the paging lookup, `/oncall`'s current shift and the handover's shift name the
    same person, and each week is one handover long."""
    from bot.config import Settings
    from bot.domain import oncall
    from bot.store import Store

    settings = Settings(
        opsbot_db=tmp_path / "o.db",
        timezone=zone,
        oncall={
            "rotation": ["U0ALICE01", "U0BOB0001", "U0CAROL01"],
            "start": "2026-01-04",
            "handover_weekday": 6,
            "handover_time": "02:30",
        },
    )
    store = Store(settings.opsbot_db)
    store.migrate()
    rot = oncall.rotation(store, settings)
    extra = oncall.overrides(store, datetime(2026, 10, 1, tzinfo=UTC))
    for night in (
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2027, 3, 27, 22, tzinfo=UTC),
        datetime(2026, 10, 31, 22, tzinfo=UTC),
        datetime(2027, 3, 13, 22, tzinfo=UTC),
    ):
        for step in range(0, 12 * 60, 20):
            moment = night + timedelta(minutes=step)
            paged = oncall.who(store, settings, moment)
            shift = shift_at(rot, extra, moment)
            assert shift is not None and paged == shift.user, moment
            assert oncall.status(store, settings, moment, "U0X").now == shift


def test_the_config_rotation_turns_at_the_handover_weekday_and_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """start = "2026-01-05" (a Monday) with the default Monday 09:00 handover turns at 09:00,
    not midnight; a start on a Wednesday waits for the next handover weekday."""
    from bot.config import Settings
    from bot.domain.oncall import config_anchor

    monday = Settings(oncall={"start": "2026-01-05"})
    assert config_anchor(monday) == datetime(2026, 1, 5, 9, 0)
    wednesday = Settings(oncall={"start": "2026-01-07", "handover_weekday": 4})
    assert config_anchor(wednesday) == datetime(2026, 1, 9, 9, 0)
    late = Settings(oncall={"start": "2026-01-05T10:00"})
    assert config_anchor(late) == datetime(2026, 1, 12, 9, 0)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_one_answer_to_who_is_on_call_in_the_changed_hours(zone: str) -> None:
    """A rotation whose handover (Sunday 02:30) falls inside both changed hours: the
    rotation lookup and the shift it belongs to agree at every minute of those nights."""
    rotation = Rotation(("A", "B", "C"), datetime(2026, 1, 4, 2, 30), ZoneInfo(zone))
    for night in (
        datetime(2026, 10, 25, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2027, 3, 14, tzinfo=UTC),
        datetime(2027, 3, 28, tzinfo=UTC),
    ):
        for minute in range(0, 8 * 60, 5):
            moment = night + timedelta(minutes=minute)
            shift = shift_at(rotation, [], moment)
            assert shift is not None and on_call(rotation, [], moment) == shift.user, moment
            assert shift.start <= moment < shift.end


# The stored schedule, on both engines ------------------------------------------------------


@pytest.mark.both_engines
def test_an_accepted_swap_is_two_overrides_each_with_its_audit_entry(store) -> None:  # type: ignore[no-untyped-def]
    """Accepting a swap stores both overrides under the ids returned, audited in order; a
    second answer to the same swap changes nothing."""
    store.oncall.set_rotation(["U0A", "U0B"], datetime(2026, 11, 23, 9, 0), actor="U0A", now=T0)
    assert store.oncall.rotation() == (["U0A", "U0B"], datetime(2026, 11, 23, 9, 0))
    give = (T0 + WEEK, T0 + 2 * WEEK)
    take = (T0 + 2 * WEEK, T0 + 3 * WEEK)
    swap = store.oncall.request_swap("U0A", "U0B", give, take, T0)
    assert store.oncall.swap(swap).status == "pending"
    assert store.oncall.decide_swap(swap, True, actor="U0B", now=T0 + timedelta(hours=1))
    assert not store.oncall.decide_swap(swap, False, actor="U0B", now=T0 + timedelta(hours=2))
    decided = store.oncall.swap(swap)
    assert (decided.status, decided.decided_at) == ("accepted", T0 + timedelta(hours=1))
    overrides = store.oncall.overrides(T0)
    assert [(o.user, o.starts_at, o.ends_at, o.reason) for o in overrides] == [
        ("U0B", *give, f"swap S{swap}"),
        ("U0A", *take, f"swap S{swap}"),
    ]
    extra = store.oncall.add_override("U0C", T0, T0 + WEEK, reason="override", actor="U0C", now=T0)
    assert [o.id for o in store.oncall.overrides(T0)] == [*(o.id for o in overrides), extra]
    assert [o.user for o in store.oncall.overrides(T0 + 2 * WEEK)] == ["U0A"]  # the others ended
    actions = [(e.actor, e.action) for e in store.oncall.audit()]
    assert actions == [
        ("U0C", "override"),
        ("U0B", "swap-accepted"),
        ("U0B", "override"),
        ("U0B", "override"),
        ("U0A", "swap-request"),
        ("U0A", "set"),
    ]
    assert store.oncall.audit(limit=1)[0].detail.startswith("U0C ")
    assert store.oncall.audit()[4].detail == f"S{swap} with U0B"


@pytest.mark.both_engines
def test_answers_to_one_swap_at_once_decide_it_once(store) -> None:  # type: ignore[no-untyped-def]
    """Six answers to the same swap at the same moment: one accepts it, the others change
    nothing, and there are exactly two overrides."""
    swap = store.oncall.request_swap("U0A", "U0B", (T0, T0 + WEEK), (T0 + WEEK, T0 + 2 * WEEK), T0)
    decided: list[bool] = []

    def answer(_: int) -> None:
        decided.append(store.oncall.decide_swap(swap, True, actor="U0B", now=T0))

    all_at_once(answer, 6)
    assert sorted(decided) == [False] * 5 + [True]
    assert len(store.oncall.overrides(T0)) == 2
    assert [e.action for e in store.oncall.audit()].count("swap-accepted") == 1
