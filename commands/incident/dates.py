"""Times and dates people type in `/incident`: `at 09:52`, `at 2026-11-27 10:02`, and a due date
(`2026-12-05`, `tomorrow`, `friday`, `+3d`), each within a sane range or a clear error."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from bot.replies import UserError, clip, typed_day
from commands.incident.args import When

_AT = re.compile(r"^at\s+(?:(\d{4}-\d{2}-\d{2})\s+)?(\d{1,2}):(\d{2})(?:\s+|$)", re.IGNORECASE)
_IN_DAYS = re.compile(r"^\+(\d{1,3})d$", re.IGNORECASE)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def when_typed(rest: str) -> tuple[When | None, str]:
    match = _AT.match(rest)
    if not match:
        if rest.lower().startswith("at "):
            raise UserError("Give the time as `at HH:MM` or `at YYYY-MM-DD HH:MM`.")
        return None, rest
    day_text, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
    try:
        time(hour, minute)
        date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise UserError(f"`{match.group(0).strip()}` is not a real time.") from None
    day = typed_day(day_text) if day_text else None
    return When(hour, minute, day), rest[match.end() :].strip()


def due_date(word: str, today: date) -> date:
    """YYYY-MM-DD, today, tomorrow, a weekday (the next one, never today) or +Nd."""
    lowered = word.lower()
    if lowered in ("today", "tomorrow"):
        return today + timedelta(days=lowered == "tomorrow")
    days = [d for d in WEEKDAYS if len(lowered) >= 3 and d.startswith(lowered)]
    if days:
        ahead = (WEEKDAYS.index(days[0]) - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)
    if found := _IN_DAYS.match(lowered):
        return today + timedelta(days=int(found.group(1)))
    try:
        date.fromisoformat(word)
    except ValueError:
        raise UserError(
            f"`due {clip(word, 30)}` is not a date I understand: use YYYY-MM-DD, tomorrow, "
            "a weekday (friday) or +3d."
        ) from None
    return typed_day(word)
