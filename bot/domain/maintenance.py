"""The plan's monthly Maintenance Log, filled from what was recorded: the daily digests'
reviews, the weekly and monthly checklists' marks, and the month's incidents. Posted by the
maintenance-log job, shown by `/health log`."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from bot.deps import Deps
from bot.domain.checklists import CHECKLISTS

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
    return render(year, month, dailies, lists, notes)


def month_end(now: datetime) -> bool:
    return (now + timedelta(days=1)).month != now.month


def render(
    year: int,
    month: int,
    dailies: list[tuple[date, set[str]]],
    lists: dict[str, set[str]],
    notes: list[str],
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
    lines += ["", "## Notes", ""] + ([f"- {note}" for note in notes] or ["- none"])
    return "\n".join(lines)
