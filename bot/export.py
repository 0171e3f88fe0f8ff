"""`opsbot export incidents|pages|alerts`: the record as rows, for people who want their
own spreadsheet. CSV or JSON on stdout (or a file), one row per incident, page or alert
since a day; times in UTC, ISO 8601; people by their Slack ids and, beside them, the names
opsbot has kept. Read from the store's repositories, so the same on SQLite and PostgreSQL
(sqlite-utils' export would read the SQLite file only)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from bot.store import Store

Row = dict[str, Any]


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() / 60, 1) if end else None


def incidents(store: Store, since: datetime) -> list[Row]:
    found = store.incidents.opened_since(since)
    names = store.people.names(
        u for i in found for u in (i.opened_by, i.commander, i.comms_lead) if u
    )
    return [
        {
            "incident": i.ref,
            "title": i.title,
            "severity": i.severity,
            "status": i.status,
            "opened_at": _time(i.opened_at),
            "opened_by": i.opened_by,
            "commander": i.commander,
            "commander_name": names.get(i.commander),
            "comms_lead": i.comms_lead,
            "acknowledged_at": _time(i.acked_at),
            "minutes_to_acknowledge": _minutes(i.opened_at, i.acked_at),
            "target_severity": i.target_severity,
            "target_minutes": i.target_minutes,
            "target_met": i.target_met,
            "breached_at": _time(i.breached_at),
            "mitigated_at": _time(i.mitigated_at),
            "resolved_at": _time(i.resolved_at),
            "minutes_to_resolve": _minutes(i.opened_at, i.resolved_at),
            "summary": i.summary,
            "channel": f"#{i.room_name}" if i.room_name else None,
        }
        for i in found
    ]


def pages(store: Store, since: datetime) -> list[Row]:
    found = store.incidents.pages(since)
    names = store.people.names(p.person for p in found)
    return [
        {
            "paged_at": _time(p.at),
            "incident": f"INC-{p.incident}",
            "person": p.person,
            "person_name": names.get(p.person),
            "role": p.role,
        }
        for p in found
    ]


def alerts(store: Store, since: datetime) -> list[Row]:
    return [
        {
            "source": a.source,
            "status": a.status,
            "severity": a.severity,
            "summary": a.summary,
            "group": a.group_key,
            "first_seen": _time(a.first_seen),
            "last_seen": _time(a.last_seen),
            "resolved_at": _time(a.resolved_at),
            "repeats": a.repeats,
            "incident": f"INC-{a.incident}" if a.incident else None,
            "silenced": a.silenced_by is not None,
            "labels": json.dumps(a.labels, sort_keys=True),
        }
        for a in store.alerts.seen_since(since)
    ]


WHAT: dict[str, Callable[[Store, datetime], list[Row]]] = {
    "incidents": incidents,
    "pages": pages,
    "alerts": alerts,
}


# Each export's columns, in order: a CSV with no row still says what it would hold.
COLUMNS = {
    "incidents": [
        "incident",
        "title",
        "severity",
        "status",
        "opened_at",
        "opened_by",
        "commander",
        "commander_name",
        "comms_lead",
        "acknowledged_at",
        "minutes_to_acknowledge",
        "target_severity",
        "target_minutes",
        "target_met",
        "breached_at",
        "mitigated_at",
        "resolved_at",
        "minutes_to_resolve",
        "summary",
        "channel",
    ],
    "pages": ["paged_at", "incident", "person", "person_name", "role"],
    "alerts": [
        "source",
        "status",
        "severity",
        "summary",
        "group",
        "first_seen",
        "last_seen",
        "resolved_at",
        "repeats",
        "incident",
        "silenced",
        "labels",
    ],
}


def write(rows: Iterable[Row], form: str, out: io.TextIOBase | Any, what: str) -> int:
    """`rows` as CSV (a header, then one line each) or JSON (one array); how many."""
    listed = list(rows)
    if form == "json":
        json.dump(listed, out, ensure_ascii=False, indent=1)
        out.write("\n")
        return len(listed)
    table = csv.DictWriter(out, fieldnames=COLUMNS[what], lineterminator="\n")
    table.writeheader()
    table.writerows({k: _cell(v) for k, v in row.items()} for row in listed)
    return len(listed)


def _cell(value: Any) -> Any:
    """A text a spreadsheet would run as a formula (a title typed in Slack, an alert's
    summary from outside: `=HYPERLINK(…)`) is written as text, behind a quote mark."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value
