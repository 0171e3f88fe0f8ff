"""The plan's response targets: how long each severity has to be acknowledged, the deadline,
and the result judged at the severity in force when it was met or missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.domain.incidents import timers
from bot.store import Incident


def response_target(incident: Incident, settings: Settings) -> timedelta:
    return timedelta(minutes=settings.severities[incident.severity].response_minutes)


def ack_deadline(incident: Incident, settings: Settings) -> datetime:
    return timers.deadline(incident, settings)


@dataclass(frozen=True)
class Judged:
    """The severity and response target an incident's result is judged at: the ones in
    force when the target was met or missed; until then, the current ones."""

    severity: str
    target: timedelta

    def differs(self, incident: Incident) -> bool:
        return self.severity != incident.severity


def judged(incident: Incident, settings: Settings) -> Judged:
    if incident.target_severity is not None and incident.target_minutes is not None:
        return Judged(incident.target_severity, timedelta(minutes=incident.target_minutes))
    return Judged(incident.severity, response_target(incident, settings))


def target_met(incident: Incident, settings: Settings) -> bool | None:
    """Met or missed as decided then; None while it is neither (unacknowledged, in time)."""
    if incident.target_met is not None:
        return incident.target_met
    if incident.acked_at is None:
        return False if incident.breached_at else None
    return incident.acked_at <= ack_deadline(incident, settings)


def judge(incident: Incident, settings: Settings, met: bool) -> dict[str, Any]:
    """The target's result, decided once: with the severity and target in force now."""
    if incident.target_met is not None:
        return {}
    minutes = settings.severities[incident.severity].response_minutes
    return {"target_severity": incident.severity, "target_minutes": minutes, "target_met": met}
