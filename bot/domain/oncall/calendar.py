"""On call in people's calendars: the rotation with its overrides and swaps as an iCalendar
feed (RFC 5545, written by the `icalendar` library), one for the whole team and one per
person, each at an address with a secret token that can be replaced.

A feed names people by their display names, never their Slack ids, and its times carry
the team's time zone (with its VTIMEZONE), so a 09:00 handover stays at 09:00 across a
change of daylight saving time in any calendar.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.config import Settings
from bot.domain.oncall.roster import overrides, rotation
from bot.domain.oncall.schedule import WEEK, Shift, schedule, shift_at
from bot.store import Store

WEEKS_AHEAD = 12
YEAR = timedelta(days=366)
TEAM = ""  # the feed of the whole team's shifts (a person's feed names their user id)
_TOKEN_OF = "calendar.token.{}"  # whose feed (a user id, or TEAM) -> its token
_FEED_OF = "calendar.feed.{}"  # sha256 of a token -> whose feed: a token is kept once


def token(store: Store, whose: str, *, new: bool = False) -> str:
    """The token of `whose` feed, made on first use; `new`: a new one, and the old one's
    address stops working."""
    held = store.state(_TOKEN_OF.format(whose))
    if held and not new:
        return held
    made = secrets.token_urlsafe(24)
    with store.atomic():
        if held:
            store.set_state(_FEED_OF.format(_digest(held)), "")
        store.set_state(_FEED_OF.format(_digest(made)), json.dumps({"whose": whose}))
        store.set_state(_TOKEN_OF.format(whose), made)
    return made


def whose(store: Store, token: str) -> str | None:
    """Whose feed a token opens (TEAM for the team's); None for a token never made or
    replaced since."""
    found = store.state(_FEED_OF.format(_digest(token))) if token else None
    if not found:
        return None
    owner = str(json.loads(found)["whose"])
    # the owner's token now: one made by a request that lost a race is not theirs
    current = store.state(_TOKEN_OF.format(owner)) or ""
    return owner if hmac.compare_digest(current.encode(), token.encode()) else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def shifts(store: Store, settings: Settings, now: datetime, person: str = TEAM) -> list[Shift]:
    """From the shift running now to WEEKS_AHEAD weeks ahead: everyone's, or `person`'s."""
    rot, extra = rotation(store, settings), overrides(store, now)
    current = shift_at(rot, extra, now)
    start = current.start if current else now
    found = schedule(rot, extra, start, now + WEEKS_AHEAD * WEEK)
    return [s for s in found if not person or s.user == person]


def feed(
    shifts: list[Shift], names: Mapping[str, str], tz: ZoneInfo, title: str, now: datetime
) -> bytes:
    """The iCalendar text of `shifts`, each an event named by its person's display name."""
    calendar = Calendar()
    calendar.add("prodid", "-//opsbot//on-call//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", title)
    calendar.add("x-wr-timezone", tz.key)
    for shift in shifts:
        name = names.get(shift.user) or "someone"
        event = Event()
        # stable across fetches (a calendar updates the event in place), and no user id
        seed = f"{shift.user}|{shift.start.isoformat()}".encode()
        event.add("uid", f"{hashlib.sha256(seed).hexdigest()[:32]}@opsbot")
        event.add("dtstamp", now)
        event.add("dtstart", shift.start.astimezone(tz))
        event.add("dtend", shift.end.astimezone(tz))
        event.add("summary", f"On call: {name}" + (" (override)" if shift.override else ""))
        event.add("transp", "TRANSPARENT")  # on call is not busy
        calendar.add_component(event)
    # its time zone's rules for the years the feed covers (the library's default: 1970-2038)
    first = min((s.start for s in shifts), default=now)
    calendar.add_missing_timezones(first.date() - YEAR, now.date() + 2 * YEAR)
    return bytes(calendar.to_ical())
