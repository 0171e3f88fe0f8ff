"""Who is on call when: a weekly rotation plus overrides. Pure; times are aware datetimes.

Weeks are counted on the team's wall clock, so the handover stays at 09:00 local across a
daylight-saving change (that week is 167 or 169 hours long) and no hour is skipped or doubled.
Among overlapping overrides the latest one wins; a swap is two overrides made at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Rotation:
    members: tuple[str, ...]
    anchor: datetime  # wall-clock start (no tzinfo) of members[0]'s week
    tz: ZoneInfo


@dataclass(frozen=True)
class Override:
    id: int
    user: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Shift:
    user: str
    start: datetime
    end: datetime
    override: bool = False


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _aware(wall: datetime, tz: ZoneInfo) -> datetime:
    # As UTC: Python subtracts two datetimes sharing one tzinfo on the wall clock, which
    # would make a DST week look 168 hours long.
    return wall.replace(tzinfo=tz).astimezone(UTC)


def boundary(rotation: Rotation, index: int) -> datetime:
    """The instant week `index` begins: the handover's wall time that week, resolved once
    (a wall time that happens twice is its first; one that does not exist, the instant
    after the gap). Every caller compares instants with these, never wall times."""
    return _aware(rotation.anchor + index * WEEK, rotation.tz)


def week_of(rotation: Rotation, moment: datetime) -> tuple[int, datetime, datetime]:
    """The rotation week holding `moment`: its index and its start and end instants."""
    guess = (_local(moment, rotation.tz) - rotation.anchor) // WEEK
    for index in (guess - 1, guess, guess + 1):
        start, end = boundary(rotation, index), boundary(rotation, index + 1)
        if start <= moment < end:
            return index, start, end
    raise AssertionError("a moment always falls in one of three neighbouring weeks")


def rotation_at(rotation: Rotation, moment: datetime) -> str | None:
    if not rotation.members:
        return None
    index, _, _ = week_of(rotation, moment)
    return rotation.members[index % len(rotation.members)]


def override_at(overrides: list[Override], moment: datetime) -> Override | None:
    covering = [o for o in overrides if o.start <= moment < o.end]
    return max(covering, key=lambda o: o.id) if covering else None


def on_call(rotation: Rotation, overrides: list[Override], moment: datetime) -> str | None:
    chosen = override_at(overrides, moment)
    return chosen.user if chosen else rotation_at(rotation, moment)


def schedule(
    rotation: Rotation, overrides: list[Override], start: datetime, end: datetime
) -> list[Shift]:
    """Consecutive shifts covering [start, end): one per week, cut where overrides begin or end."""
    if not rotation.members and not overrides:
        return []
    cuts = {start, end}
    _, week_start, week_end = week_of(rotation, start)
    while week_end < end:
        cuts.add(week_end)
        week_end = week_of(rotation, week_end)[2]
    for item in overrides:
        cuts |= {t for t in (item.start, item.end) if start < t < end}
    points = sorted(cuts)
    shifts: list[Shift] = []
    for left, right in zip(points, points[1:], strict=False):
        user = on_call(rotation, overrides, left)
        if user is None:
            continue
        covered = override_at(overrides, left) is not None
        last = shifts[-1] if shifts else None
        if last and last.user == user and last.end == left and last.override == covered:
            shifts[-1] = Shift(user, last.start, right, covered)
        else:
            shifts.append(Shift(user, left, right, covered))
    return shifts


def shift_at(rotation: Rotation, overrides: list[Override], moment: datetime) -> Shift | None:
    """The shift running at `moment`, with its real start and end (looking a year each way)."""
    around = schedule(rotation, overrides, moment - 53 * WEEK, moment + 53 * WEEK)
    return next((s for s in around if s.start <= moment < s.end), None)


def next_shift_of(
    rotation: Rotation, overrides: list[Override], user: str, after: datetime, weeks: int = 26
) -> Shift | None:
    """The user's shift running at `after` or the first one starting after it."""
    upcoming = schedule(rotation, overrides, after, after + weeks * WEEK)
    return next((s for s in upcoming if s.user == user), None)


def anchor_for(now: datetime, tz: ZoneInfo, weekday: int, hour: int, minute: int) -> datetime:
    """The latest handover (weekday at hour:minute, wall clock) at or before `now`."""
    local = _local(now, tz)
    start = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    start -= timedelta(days=(start.weekday() - weekday) % 7)
    return start if start <= local else start - WEEK
