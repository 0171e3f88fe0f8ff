"""On-call rules over the store: the rotation in force, overrides, swaps, who may change them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.config import Settings
from bot.domain.oncall import (
    WEEK,
    Override,
    Rotation,
    Shift,
    anchor_for,
    overrides,
    rotation,
    schedule,
)
from bot.replies import UserError, mention
from bot.store import Store, Swap
from commands.oncall import parse as p


def require_admin(settings: Settings, actor: str) -> None:
    admins = settings.oncall.admins
    if admins and actor not in admins:
        allowed = ", ".join(mention(a) for a in admins)
        raise UserError(f"Only {allowed} may change the rotation. Nothing was changed.")


def set_rotation(
    store: Store, settings: Settings, members: tuple[str, ...], *, actor: str, now: datetime
) -> Rotation:
    """The new rotation starts with the current week: its first member is on call now."""
    require_admin(settings, actor)
    hour, minute = map(int, settings.oncall.handover_time.split(":"))
    anchor = anchor_for(now, settings.tz, settings.oncall.handover_weekday, hour, minute)
    store.oncall.set_rotation(list(members), anchor, actor=actor, now=now)
    return Rotation(members, anchor, settings.tz)


def override_span(args: p.Override, settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    tz = settings.tz
    if args.length is not None:
        return now, now + args.length
    if args.until is not None:
        day, hour, minute = args.until
        if hour is None:
            hour, minute = map(int, settings.oncall.handover_time.split(":"))
        try:
            end = datetime.combine(day, time(hour, minute or 0), tz)
        except ValueError:
            raise UserError("That is not a time of day.", p.usage_line("override")) from None
        return now, end
    assert args.days is not None
    first, last = args.days
    start = datetime.combine(first, time(0), tz)
    return max(start, now), datetime.combine(last + timedelta(days=1), time(0), tz)


def override(
    store: Store, settings: Settings, args: p.Override, *, actor: str, now: datetime
) -> tuple[datetime, datetime, list[Override]]:
    """Set it; returns its span and the overrides it takes over from where they overlap."""
    require_admin(settings, actor)
    start, end = override_span(args, settings, now)
    if end <= now:
        raise UserError("That override would already be over. Nothing was changed.")
    if end - start > timedelta(weeks=8):
        raise UserError("An override lasts at most 8 weeks; change the rotation instead.")
    replaced = [o for o in overrides(store, now) if o.start < end and o.end > start]
    store.oncall.add_override(args.user, start, end, reason="override", actor=actor, now=now)
    return start, end, replaced


def request_swap(
    store: Store, settings: Settings, requester: str, args: p.Swap, *, now: datetime
) -> tuple[int, Shift, Shift]:
    """Find the caller's shift to give and the other person's next shift to take."""
    if args.user == requester:
        raise UserError("A swap needs someone else.")
    rot, extra = rotation(store, settings), overrides(store, now)
    after = now if args.week is None else datetime.combine(args.week, time(12), settings.tz)
    mine = [s for s in schedule(rot, extra, now, now + 26 * WEEK) if s.user == requester]
    give = next((s for s in mine if s.end > after), None)
    if give is not None and give.start <= now:  # running now: a swap trades whole shifts
        if args.week is not None:
            raise UserError(
                "That shift of yours has already begun: a swap trades whole shifts. To hand "
                "over the rest of it, an admin can use `/oncall override @user until "
                "YYYY-MM-DD HH:MM`."
            )
        give = next((s for s in mine if s.start > now), None)
    if give is None:
        raise UserError("You have no shift in the next 26 weeks to swap.")
    # Their next regular week that has not begun: a running shift or an override is not
    # theirs to trade.
    take = next(
        (
            s
            for s in schedule(rot, extra, now, now + 26 * WEEK)
            if s.user == args.user and s.start > now and not s.override and s.start != give.start
        ),
        None,
    )
    if take is None:
        raise UserError(f"{mention(args.user)} has no shift in the next 26 weeks to swap with.")
    swap = store.oncall.request_swap(
        requester, args.user, (give.start, give.end), (take.start, take.end), now
    )
    return swap, give, take


def answer_swap(store: Store, swap_id: int, *, actor: str, accepted: bool, now: datetime) -> Swap:
    swap = store.oncall.swap(swap_id)
    if swap is None:
        raise UserError("That swap no longer exists.")
    if actor != swap.target:
        raise UserError(f"Only {mention(swap.target)} can answer this swap.")
    if not store.oncall.decide_swap(swap_id, accepted, actor=actor, now=now):
        raise UserError(f"This swap was already {swap.status}.")
    return swap


def day_of(moment: datetime, settings: Settings) -> date:
    return moment.astimezone(settings.tz).date()
