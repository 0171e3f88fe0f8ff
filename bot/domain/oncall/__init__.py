"""On call: who is on call now and when (roster.py, over the pure rotation arithmetic in
schedule.py), and paging through PagerDuty (paging.py)."""

from __future__ import annotations

from bot.domain.oncall.roster import (
    Status,
    config_anchor,
    overrides,
    rotation,
    status,
    upcoming,
    who,
)
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

__all__ = [
    "WEEK",
    "Override",
    "Rotation",
    "Shift",
    "Status",
    "anchor_for",
    "config_anchor",
    "next_shift_of",
    "on_call",
    "overrides",
    "rotation",
    "schedule",
    "shift_at",
    "status",
    "upcoming",
    "who",
]
