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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.replies import UserError, span
from bot.store import ActionItem, Alert, Incident, Page

UTC_ZONE = ZoneInfo("UTC")
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
        up_to = now + timedelta(microseconds=1)  # what happened at this very moment too
        return Period(up_to - timedelta(days=count), up_to, f"the last {count} days")
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


def by_month(
    incidents: list[Incident], span: Period, settings: Settings
) -> list[tuple[str, list[Times]]]:
    """Each calendar month (the team's) the period touches, with its response times."""
    months: dict[str, list[Incident]] = {}
    month = span.start.astimezone(settings.tz).replace(day=1, hour=0, minute=0, second=0)
    month = month.replace(microsecond=0)
    while month < span.end:
        months[f"{month:%B %Y}"] = []
        month = (month + timedelta(days=32)).replace(day=1)
    for incident in incidents:
        months.setdefault(f"{incident.opened_at.astimezone(settings.tz):%B %Y}", []).append(
            incident
        )
    return [(name, response_times(found, settings)) for name, found in months.items()]


def describe(t: Times, settings: Settings, before: Times | None = None) -> str:
    """One severity's line: `2 opened · acknowledged in 20 min median (before: 30 min), 30 min
    p90 · 100% within 1 h · resolved in 1 h median, 1 h p90`."""
    target = took(settings.severities[t.severity].response_minutes)
    then = f" (before: {took(before.ack_median)})" if before and before.acked else ""
    acked = (
        f"acknowledged in {took(t.ack_median)} median{then}, {took(t.ack_p90)} p90"
        if t.acked
        else "none acknowledged yet"
    )
    within = f"{share(t.met_share)} within {target}" if t.met_share is not None else ""
    done = (
        f"resolved in {took(t.resolve_median)} median, {took(t.resolve_p90)} p90"
        if t.resolved
        else "none resolved yet"
    )
    return " · ".join(part for part in (f"{t.opened} opened", acked, within, done) if part)


def took(minutes: float | None) -> str:
    return span(timedelta(seconds=round(minutes * 60))) if minutes is not None else "–"


def share(part: float) -> str:
    """A share as a whole percent, never rounded up to 100 (199 of 200 is 99 %)."""
    return f"{math.floor(part * 100)}%"


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


SOURCES = ("hand", "alerts", "monitor", "security", "digest")
NIGHT_FROM, NIGHT_UNTIL = 22, 7  # a page between 22:00 and 07:00, the person's own time


def by_source(incidents: list[Incident]) -> dict[str, int]:
    """Incidents by what opened them; those from before the record as "not recorded"."""
    counted = dict.fromkeys(SOURCES, 0)
    for incident in incidents:
        via = incident.opened_via or "not recorded"
        counted[via] = counted.get(via, 0) + 1
    return {via: n for via, n in counted.items() if n}


@dataclass(frozen=True)
class Paged:
    """One person's pages in a period, by when they came in that person's own time: at
    the weekend, else at night (22:00-07:00), else in the day."""

    person: str
    zone: str
    day: int
    night: int
    weekend: int
    escalations: int  # pages as the escalation contact

    @property
    def pages(self) -> int:
        return self.day + self.night + self.weekend


def pages_by_person(pages: list[Page], zones: Mapping[str, str], team: ZoneInfo) -> list[Paged]:
    """`zones`: each person's time zone as Slack has it (the team's where unknown). Most
    paged first."""
    counts: dict[str, list[int]] = {}
    used: dict[str, str] = {}  # the zone each one's pages were read in
    for page in pages:
        local = page.at.astimezone(_zone(zones.get(page.person), team))
        used[page.person] = str(local.tzinfo)
        slot = 2 if local.weekday() >= 5 else 1 if _at_night(local.hour) else 0
        counted = counts.setdefault(page.person, [0, 0, 0, 0])
        counted[slot] += 1
        counted[3] += page.role == "escalation"
    found = [Paged(person, used[person], *counted) for person, counted in counts.items()]
    return sorted(found, key=lambda p: (-p.pages, p.person))


def pages_line(paged: list[Paged]) -> str:
    """`5 pages (2 at night, 1 at the weekend, in each one's own time)`."""
    total = sum(p.pages for p in paged)
    night, weekend = sum(p.night for p in paged), sum(p.weekend for p in paged)
    return f"{total} pages ({night} at night, {weekend} at the weekend, in each one's own time)"


def _at_night(hour: int) -> bool:
    return hour >= NIGHT_FROM or hour < NIGHT_UNTIL


def _zone(name: str | None, team: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else team
    except (ValueError, KeyError, OSError):  # a zone this machine does not know: the team's
        return team


@dataclass(frozen=True)
class Noise:
    """An alert group's noise in a period: notifications (each alert and each repeat),
    incidents its alerts opened or joined, and alerts that resolved with no incident."""

    source: str
    group: str
    notifications: int
    incidents: int
    resolved_alone: int


def noisiest(alerts: list[Alert], most: int = 10) -> list[Noise]:
    groups: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        groups.setdefault((alert.source, alert.group_key), []).append(alert)
    found = [
        Noise(
            source,
            group,
            sum(1 + a.repeats for a in members),
            len({a.incident for a in members if a.incident}),
            sum(1 for a in members if a.status == "resolved" and not a.incident),
        )
        for (source, group), members in groups.items()
    ]
    return sorted(found, key=lambda n: (-n.notifications, n.source, n.group))[:most]


@dataclass(frozen=True)
class Owed:
    """One owner's open action items: how many, how many past their due day, the oldest."""

    owner: str
    open: int
    overdue: int
    oldest_days: int


def follow_ups(items: list[ActionItem], today: date, tz: ZoneInfo = UTC_ZONE) -> list[Owed]:
    """Open action items by owner, those with overdue items first, then the oldest."""
    owners: dict[str, list[ActionItem]] = {}
    for item in items:
        if item.done_at is None:
            owners.setdefault(item.owner, []).append(item)
    found = []
    for owner, open_items in owners.items():
        late = sum(1 for i in open_items if i.due and i.due < today.isoformat())
        ages = [
            (today - i.created_at.astimezone(tz).date()).days for i in open_items if i.created_at
        ]
        found.append(Owed(owner, len(open_items), late, max(ages, default=0)))
    return sorted(found, key=lambda o: (-o.overdue, -o.oldest_days, o.owner))
