"""What the public status page shows, built only from what was marked public: public titles,
public updates, component states from the health readings. Never timeline text, user ids or
channel names."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bot.deps import Deps
from bot.domain.health import NOT_CONFIGURED
from bot.slacktext import plain
from bot.store import Incident

LEVEL = {"P0": "major outage", "P1": "partial outage"}
NOT_MONITORED = "not monitored"  # no health check behind it, or its target is not configured
NO_DATA = "no data"  # monitored, but opsbot has no recent reading (or was not running yet)
RANK = {
    NOT_MONITORED: -2,
    NO_DATA: -1,
    "operational": 0,
    "degraded performance": 1,
    "partial outage": 2,
    "major outage": 3,
}
FIRST_SEEN_KEY = "health.monitor.first_run"  # the first day the bot observed anything
FRESH = timedelta(minutes=10)
GENERIC_TITLE = "Service disruption"


def _component_state(deps: Deps, check: str | None, now: datetime) -> str:
    """Only what was observed: a component nobody checks is "not monitored", one without a
    recent reading "no data", never "operational" by default."""
    if check is None:
        return NOT_MONITORED
    rows = deps.store.health.readings(check, now - FRESH)
    if not rows:
        return NO_DATA
    return {
        "critical": "major outage",
        "warning": "degraded performance",
        NOT_CONFIGURED: NOT_MONITORED,
    }.get(rows[-1].state, "operational")


def public_title(incident: Incident) -> str:
    """The commander's public title as plain text, or the generic one."""
    return plain(incident.public_title or "", public=True) or GENERIC_TITLE


def build(deps: Deps, now: datetime) -> dict[str, Any]:
    settings = deps.settings.status_page
    components = [
        {"name": c.name, "status": _component_state(deps, c.check, now)}
        for c in settings.components
    ]
    incidents = deps.store.incidents.public_incidents(now - timedelta(days=90))
    active = []
    for incident in incidents:
        if not incident.is_open:
            continue
        updates = deps.store.incidents.public_updates(incident.number)
        active.append(
            {
                "title": public_title(incident),
                "impact": LEVEL.get(incident.severity, "degraded performance"),
                "since": incident.opened_at.isoformat(timespec="minutes"),
                "latest_update": plain(updates[-1].text, public=True) if updates else "",
                "updated_at": updates[-1].at.isoformat(timespec="minutes") if updates else None,
            }
        )
    states = [str(c["status"]) for c in components] + [str(a["impact"]) for a in active]
    overall = max(states, key=lambda s: RANK.get(s, 0), default=NOT_MONITORED)
    maintenance = [
        {
            "component": plain(window.component or "", public=True),
            "from": window.starts_at.isoformat(timespec="minutes"),
            "until": window.ends_at.isoformat(timespec="minutes"),
            "text": plain(window.reason, public=True),
        }
        for window in deps.store.alerts.silences(now, kind="maintenance")
    ]
    return {
        "title": settings.title,
        "status": overall,
        "components": components,
        "incidents": active,
        "maintenance": maintenance,
        "history": _history(incidents, now.date(), _first_seen(deps)),
        "generated_at": now.isoformat(timespec="minutes"),
    }


def _first_seen(deps: Deps) -> date | None:
    first = deps.store.state(FIRST_SEEN_KEY)
    return datetime.fromisoformat(first).date() if first else None


def _history(
    incidents: list[Incident], today: date, first_seen: date | None
) -> list[dict[str, str]]:
    """One entry per day for 90 days: the worst public impact that day; "no data" for the
    days before opsbot first observed anything (and no public incident said otherwise)."""
    days = []
    for back in range(89, -1, -1):
        day = today - timedelta(days=back)
        worst = "operational" if first_seen is not None and day >= first_seen else NO_DATA
        for incident in incidents:
            start = incident.opened_at.date()
            end = (
                incident.resolved_at or datetime.max.replace(tzinfo=incident.opened_at.tzinfo)
            ).date()
            if start <= day <= end:
                impact = LEVEL.get(incident.severity, "degraded performance")
                worst = max(worst, impact, key=lambda s: RANK[s])
        days.append({"day": day.isoformat(), "status": worst})
    return days
