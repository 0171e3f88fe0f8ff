"""The plan's monthly Maintenance Log, filled from what was recorded: the daily digests'
reviews, the weekly and monthly checklists' marks, the month's incidents and their figures
(response times, pages). Posted by the
maintenance-log job, shown by `/health log`."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from bot.deps import Deps
from bot.domain.checklists import CHECKLISTS
from bot.domain.incidents import insights

# The daily digest's sections people mark reviewed, and how the log names them.
REVIEWABLE = {"errors": "Error logs", "health": "Health", "feedback": "Feedback"}


def maintenance_log(deps: Deps, year: int, month: int) -> str:
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    found = deps.store.digests.find(first.isoformat(), last.isoformat())
    dailies = [
        (d.day, {m.item for m in deps.store.digests.marks(d.id)})
        for d in found
        if d.kind == "daily"
    ]
    lists: dict[str, set[str]] = {}
    for digest in found:
        if digest.kind != "daily":
            lists.setdefault(digest.kind, set()).update(
                m.item for m in deps.store.digests.marks(digest.id)
            )
    opened = [
        i
        for i in deps.store.incidents.find(open_only=False, limit=500)
        if first <= i.opened_at.astimezone(deps.settings.tz).date() <= last
    ]
    notes = [f"{i.ref} {i.severity} {i.title} ({i.status})" for i in reversed(opened)]
    return render(year, month, dailies, lists, notes, figures(deps, year, month))


def figures(deps: Deps, year: int, month: int) -> list[str]:
    """The month's response times per severity and its pages, as /incident stats says them."""
    tz, settings = deps.settings.tz, deps.settings
    start = datetime(year, month, 1, tzinfo=tz)
    span = insights.Period(start, (start + timedelta(days=32)).replace(day=1), f"{start:%B %Y}")
    these = insights.within(deps.store.incidents.opened_since(start), span)
    lines = [
        f"- {t.severity}: {insights.describe(t, settings)}"
        for t in insights.response_times(these, settings)
    ] or ["- no incident was opened"]
    pages = deps.store.incidents.pages(span.start, span.end)
    zones = deps.store.people.zones({p.person for p in pages})
    return [*lines, f"- {insights.pages_line(insights.pages_by_person(pages, zones, tz))}"]


def month_end(now: datetime) -> bool:
    return (now + timedelta(days=1)).month != now.month


def render(
    year: int,
    month: int,
    dailies: list[tuple[date, set[str]]],
    lists: dict[str, set[str]],
    notes: list[str],
    figures: list[str] | None = None,
) -> str:
    """The plan's "Maintenance Log - [Month Year]" template, filled from what was recorded."""
    name = f"{calendar.month_name[month]} {year}"
    lines = [f"# Maintenance Log - {name}", "", "## Daily Checks", ""]
    for day, marks in dailies:
        all_done = "all" in marks
        cells = [
            f"{label} {'✓' if all_done or key in marks else '✗'}"
            for key, label in REVIEWABLE.items()
        ]
        box = "x" if all_done or set(REVIEWABLE) <= marks else " "
        lines.append(f"- [{box}] {day:%a %d}: " + " | ".join(cells))
    if not dailies:
        lines.append("- no daily digest was posted this month")
    for kind in ("weekly", "monthly"):
        lines += ["", f"## {kind.capitalize()} Tasks", ""]
        lines += [
            f"- [{'x' if item in lists.get(kind, set()) else ' '}] {item}"
            for item in CHECKLISTS[kind]
        ]
    if figures:
        lines += ["", "## Incident Figures", "", *figures]
    lines += ["", "## Notes", ""] + ([f"- {note}" for note in notes] or ["- none"])
    return "\n".join(lines)
