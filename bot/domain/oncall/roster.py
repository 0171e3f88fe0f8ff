"""Who is on call, when: the rotation in force (set with `/oncall set`, or the config's),
with its overrides, over the store. What every part that pages, posts or shows the on-call
person asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.domain.oncall.schedule import (
    WEEK,
    Override,
    Rotation,
    Shift,
    anchor_for,
    next_shift_of,
    on_call,
    schedule,
    shift_at,
)
from bot.store import Store


@dataclass(frozen=True)
class Status:
    now: Shift | None
    next: Shift | None
    mine: Shift | None
    escalation: str


def rotation(store: Store, settings: Settings) -> Rotation:
    """The rotation set with `/oncall set`, or else the one in the config file."""
    stored = store.oncall.rotation()
    if stored:
        members, anchor = stored
        return Rotation(tuple(members), anchor, settings.tz)
    return Rotation(tuple(settings.oncall.rotation), config_anchor(settings), settings.tz)


def config_anchor(settings: Settings) -> datetime:
    """The config rotation's first handover: the first handover weekday and time (as
    `/oncall set` uses them) at or after `oncall.start`, a date or a date and time."""
    start = datetime.fromisoformat(settings.oncall.start).replace(tzinfo=None)
    hour, minute = map(int, settings.oncall.handover_time.split(":"))
    weekday = settings.oncall.handover_weekday
    latest = anchor_for(start.replace(tzinfo=settings.tz), settings.tz, weekday, hour, minute)
    return latest if latest >= start else latest + WEEK


def overrides(store: Store, since: datetime) -> list[Override]:
    return [
        Override(o.id, o.user, o.starts_at, o.ends_at)
        for o in store.oncall.overrides(since - WEEK * 60)
    ]


def who(store: Store, settings: Settings, now: datetime) -> str | None:
    """Who is on call at `now` (overrides included); None when nobody is set up."""
    return on_call(rotation(store, settings), overrides(store, now), now)


def status(store: Store, settings: Settings, now: datetime, caller: str) -> Status:
    rot, extra = rotation(store, settings), overrides(store, now)
    current = shift_at(rot, extra, now)
    following = schedule(rot, extra, current.end, current.end + 2 * WEEK) if current else []
    later = next((s for s in following if s.user != current.user), None) if current else None
    mine = next_shift_of(rot, extra, caller, now)
    return Status(current, later, mine, settings.oncall.escalation)


def upcoming(store: Store, settings: Settings, now: datetime, weeks: int) -> list[Shift]:
    rot = rotation(store, settings)
    return schedule(rot, overrides(store, now), now, now + weeks * WEEK)
