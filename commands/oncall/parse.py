"""`/oncall` text -> one frozen dataclass per subcommand. Pure; bad input raises UserError."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.replies import UserError, typed_day

USAGE = """*Usage:* `/oncall [subcommand]`
• `/oncall`: who is on call now, until when, who is next, and your next shift
• `schedule [weeks]`: the next weeks (default 4, at most 26)
• `set @a @b @c`: the weekly rotation, in order, starting with this week
• `override @user <2d|12h|until YYYY-MM-DD [HH:MM]|YYYY-MM-DD..YYYY-MM-DD>`
• `swap @user [YYYY-MM-DD]`: ask @user to trade your next shift (or the one on that date) for theirs
• `calendar [new [team]]`: your shifts and the team's as calendar feeds (only you see the
  addresses); `new` replaces your address (`new team`: the team's), and the old stops working
• `contacts`: escalation, infrastructure, security · `help`"""

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_SPAN = re.compile(r"^(\d+)([mhdw])$")
_UNTIL = re.compile(r"^until\s+(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}):(\d{2}))?$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Now:
    pass


@dataclass(frozen=True)
class Schedule:
    weeks: int = 4


@dataclass(frozen=True)
class Set:
    members: tuple[str, ...]


@dataclass(frozen=True)
class Override:
    user: str
    length: timedelta | None = None  # from now
    until: tuple[date, int | None, int | None] | None = None  # a day, optional hour:minute
    days: tuple[date, date] | None = None  # whole days, both included


@dataclass(frozen=True)
class Swap:
    user: str
    week: date | None = None


@dataclass(frozen=True)
class Contacts:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Calendar:
    new: str | None = None  # "mine" or "team": that feed's address replaced


Args = Now | Schedule | Set | Override | Swap | Contacts | Help | Calendar


def usage_line(verb: str) -> str:
    """The one line of USAGE about `verb`, and where the rest is."""
    line = next((ln for ln in USAGE.splitlines() if ln.startswith(f"• `{verb}")), None)
    shown = f"*Usage:* `/oncall {line[3:]}" if line else "*Usage:*"
    return f"{shown.replace('`/oncall `', '`/oncall ')} · `/oncall help` lists every subcommand."


def parse(text: str) -> Args:
    verb = text.strip().partition(" ")[0].lower()
    try:
        return _parse(text)
    except UserError as error:
        if error.usage is None:
            error.usage = usage_line(verb)
        raise


def _parse(text: str) -> Args:
    verb, _, rest = text.strip().partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("", "now", "who"):
        return Now()
    if verb == "help":
        return Help()
    if verb == "contacts":
        return Contacts()
    parsers = {
        "schedule": _schedule,
        "set": _set,
        "override": _override,
        "swap": _swap,
        "calendar": _calendar,
    }
    if verb not in parsers:
        close = difflib.get_close_matches(verb, [*parsers, "contacts", "help"], n=1)
        guess = f" Did you mean `{close[0]}`?" if close else ""
        raise UserError(
            f"Unknown subcommand `{verb}`.{guess}", "`/oncall help` lists every subcommand."
        )
    return parsers[verb](rest)


def user(token: str, verb: str) -> str:
    match = _USER.match(token)
    if not match:
        raise UserError(f"`{verb}` needs an @user, not `{token or 'nothing'}`.")
    return match.group(1)


def _schedule(rest: str) -> Args:
    if not rest:
        return Schedule()
    if not rest.isdigit() or not 1 <= int(rest) <= 26:
        raise UserError("`schedule` takes a number of weeks from 1 to 26.")
    return Schedule(int(rest))


def _calendar(rest: str) -> Args:
    words = rest.lower().split()
    if words in ([], ["new"], ["new", "team"]):
        return Calendar({1: "mine", 2: "team"}.get(len(words)))
    raise UserError("`calendar` takes `new` (a new address for your feed) or `new team`.")


def _set(rest: str) -> Args:
    members = tuple(user(token, "set") for token in rest.split())
    if not members:
        raise UserError("`set` needs the rotation, in order: `/oncall set @a @b @c`.")
    if len(set(members)) != len(members):
        raise UserError("Someone is in the rotation twice.")
    return Set(members)


def _override(rest: str) -> Args:
    who, _, when = rest.partition(" ")
    person, when = user(who, "override"), when.strip()
    if match := _SPAN.match(when):
        amount = min(int(match.group(1)), 10**6)  # beyond that, timedelta overflows
        length = timedelta(**{_UNITS[match.group(2)]: amount})
        if not timedelta(0) < length <= timedelta(weeks=8):
            raise UserError(
                "An override lasts at most 8 weeks; change the rotation instead.",
            )
        return Override(person, length=length)
    if match := _UNTIL.match(when):
        hour = int(match.group(2)) if match.group(2) else None
        minute = int(match.group(3)) if match.group(3) else None
        return Override(person, until=(typed_day(match.group(1)), hour, minute))
    if match := _RANGE.match(when):
        first, last = typed_day(match.group(1)), typed_day(match.group(2))
        if last < first:
            raise UserError("The range ends before it starts.")
        return Override(person, days=(first, last))
    raise UserError(
        "Say how long: `2d`, `12h`, `until 2026-12-03 18:00` or `2026-12-01..2026-12-03`.",
    )


def _swap(rest: str) -> Args:
    who, _, week = rest.partition(" ")
    return Swap(user(who, "swap"), typed_day(week.strip()) if week.strip() else None)
