"""Who is on call: the weekly rotation from config, turning every 7 days from `start`."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import OnCall

WEEK = timedelta(days=7)


def current_oncall(oncall: OnCall, now: datetime, tz: ZoneInfo) -> str | None:
    """The member on call at `now`, or None when no rotation is configured."""
    if not oncall.rotation:
        return None
    start = datetime.fromisoformat(oncall.start)
    if start.tzinfo is None:
        start = start.replace(tzinfo=tz)
    # Count whole weeks on the wall clock so a DST change does not move the handover hour.
    local_now = now.astimezone(tz).replace(tzinfo=None)
    weeks = (local_now - start.astimezone(tz).replace(tzinfo=None)) // WEEK
    return oncall.rotation[weeks % len(oncall.rotation)]
