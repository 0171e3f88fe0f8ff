"""What the public status page shows, built only from what was marked public: public titles,
public updates, component states from the health readings. Never timeline text, user ids or
channel names."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bot.deps import Deps
from bot.slacktext import plain
from bot.store import Incident

LEVEL = {"P0": "major outage", "P1": "partial outage"}
RANK = {"operational": 0, "degraded performance": 1, "partial outage": 2, "major outage": 3}
FRESH = timedelta(minutes=10)
GENERIC_TITLE = "Service disruption"


def _component_state(deps: Deps, check: str | None, now: datetime) -> str:
    if check is None:
        return "operational"
    rows = deps.store.readings(check, now - FRESH)
    if not rows:
        return "operational"
    return {"critical": "major outage", "warning": "degraded performance"}.get(
        rows[-1]["state"], "operational"
    )


def public_title(incident: Incident) -> str:
    """The commander's public title as plain text, or the generic one."""
    return plain(incident.public_title or "", public=True) or GENERIC_TITLE


def build(deps: Deps, now: datetime) -> dict[str, Any]:
    settings = deps.settings.status_page
    components = [
        {"name": c.name, "status": _component_state(deps, c.check, now)}
        for c in settings.components
    ]
    incidents = deps.store.public_incidents(now - timedelta(days=90))
    active = []
    for incident in incidents:
        if not incident.is_open:
            continue
        updates = deps.store.public_updates(incident.number)
        active.append(
            {
                "title": public_title(incident),
                "impact": LEVEL.get(incident.severity, "degraded performance"),
                "since": incident.opened_at.isoformat(timespec="minutes"),
                "latest_update": plain(updates[-1]["text"], public=True) if updates else "",
                "updated_at": updates[-1]["at"].isoformat(timespec="minutes") if updates else None,
            }
        )
    states = [str(c["status"]) for c in components] + [str(a["impact"]) for a in active]
    overall = max(states, key=lambda s: RANK.get(s, 0), default="operational")
    return {
        "title": settings.title,
        "status": overall,
        "components": components,
        "incidents": active,
        "history": _history(incidents, now.date()),
        "generated_at": now.isoformat(timespec="minutes"),
    }


def _history(incidents: list[Incident], today: date) -> list[dict[str, str]]:
    """One entry per day for 90 days: the worst public impact that day."""
    days = []
    for back in range(89, -1, -1):
        day = today - timedelta(days=back)
        worst = "operational"
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
