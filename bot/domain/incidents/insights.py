"""What the incident record says over a period (`/incident stats`): how fast incidents were
acknowledged and resolved per severity, against the plan's targets and the period before,
and how many were opened each week. Pure: the incidents and the clock come in.

Percentiles are nearest-rank (the p90 of ten values is the ninth smallest), so a figure can
be checked by hand; a severity with no incident in the period has no figures, not zeros.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.replies import UserError
from bot.store import Incident

PERIODS = "`30d`, `90d` (any number of days up to 366) or a month, `2026-11`"
_DAYS = re.compile(r"^(\d{1,3})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    label: str  # "the last 30 days", "November 2026"


def period(text: str, now: datetime, tz: ZoneInfo) -> Period:
    """`30d` (the default), `90d`, `2026-11`; anything else is one line with the forms."""
    typed = text.strip().lower() or "30d"
    days, month = _DAYS.match(typed), _MONTH.match(typed)
    if days and 1 <= int(days.group(1)) <= 366:
        count = int(days.group(1))
        return Period(now - timedelta(days=count), now, f"the last {count} days")
    if month and 1 <= int(month.group(2)) <= 12:
        first = datetime(int(month.group(1)), int(month.group(2)), 1, tzinfo=tz)
        following = (first + timedelta(days=32)).replace(day=1)
        return Period(first, following, f"{first:%B %Y}")
    raise UserError(f"`stats` takes {PERIODS}; `{text.strip()}` is none of them.")


def before(span: Period) -> Period:
    """The period of the same length just before (the month before, for a month)."""
    if span.start.day == 1 and span.label[:1].isupper():  # a month
        first = (span.start - timedelta(days=1)).replace(day=1)
        return Period(first, span.start, f"{first:%B %Y}")
    return Period(span.start - (span.end - span.start), span.start, "the period before")


def within(incidents: list[Incident], span: Period) -> list[Incident]:
    return [i for i in incidents if span.start <= i.opened_at < span.end]


@dataclass(frozen=True)
class Times:
    """One severity's response over a period; minutes, None where nothing was measured."""

    severity: str
    opened: int
    acked: int
    ack_median: float | None
    ack_p90: float | None
    judged: int  # how many have a verdict on the plan's target (met or missed)
    met: int
    resolved: int
    resolve_median: float | None
    resolve_p90: float | None

    @property
    def met_share(self) -> float | None:
        return self.met / self.judged if self.judged else None


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def response_times(incidents: list[Incident], settings: Settings) -> list[Times]:
    """Per severity of the plan, in its order, those with any incident opened."""
    found = []
    for severity in settings.severities:
        these = [i for i in incidents if i.severity == severity]
        if not these:
            continue
        ack = [_minutes(i.opened_at, i.acked_at) for i in these if i.acked_at]
        done = [_minutes(i.opened_at, i.resolved_at) for i in these if i.resolved_at]
        judged = [i.target_met for i in these if i.target_met is not None]
        found.append(
            Times(
                severity,
                len(these),
                len(ack),
                statistics.median(ack) if ack else None,
                p90(ack),
                len(judged),
                sum(judged),
                len(done),
                statistics.median(done) if done else None,
                p90(done),
            )
        )
    return found


def weekly(
    incidents: list[Incident], span: Period, tz: ZoneInfo, severities: list[str]
) -> list[tuple[date, dict[str, int]]]:
    """Incidents opened each week (weeks start on Monday, in the team's zone) by severity,
    every week of the period listed, those with none too."""
    first = span.start.astimezone(tz).date()
    first -= timedelta(days=first.weekday())
    last = (span.end - timedelta(microseconds=1)).astimezone(tz).date()
    weeks: dict[date, dict[str, int]] = {}
    monday = first
    while monday <= last:
        weeks[monday] = dict.fromkeys(severities, 0)
        monday += timedelta(days=7)
    for incident in incidents:
        day = incident.opened_at.astimezone(tz).date()
        week = weeks.get(day - timedelta(days=day.weekday()))
        if week is not None and incident.severity in week:
            week[incident.severity] += 1
    return list(weeks.items())
