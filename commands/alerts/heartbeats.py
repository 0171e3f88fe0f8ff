"""Heartbeats: a beat is recorded, a missed one is an alert from source `heartbeat` through the
same rules, and the next beat resolves it."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.alert_settings import Heartbeat
from bot.deps import Deps
from commands.alerts.intake import AlertEvent
from commands.alerts.service import receive
from commands.alerts.storms import HEARTBEAT_SOURCE


def beat(deps: Deps, name: str, now: datetime) -> None:
    """A beat: recorded; the first after a miss resolves the miss's alert."""
    missed = deps.store.alerts.beat(name, now)
    if missed is not None:
        event = AlertEvent(fingerprint=name, status="resolved", summary="", group_key=name)
        receive(deps, HEARTBEAT_SOURCE, [event], now)


def check_heartbeats(deps: Deps, now: datetime) -> list[str]:
    """Each configured heartbeat past its interval and grace: one alert, once per miss."""
    late = []
    for heartbeat in deps.settings.heartbeats:
        known = deps.store.alerts.heartbeat(heartbeat.name)
        if known is None or known.last_beat is None:
            deps.store.alerts.beat(heartbeat.name, now)  # watched from now on
            continue
        due = known.last_beat + timedelta(
            minutes=heartbeat.interval_minutes + heartbeat.grace_minutes
        )
        if now > due and deps.store.alerts.mark_missed(heartbeat.name, due):
            late.append(heartbeat.name)
            receive(deps, HEARTBEAT_SOURCE, [_missed(heartbeat, known.last_beat)], now)
    return late


def _missed(heartbeat: Heartbeat, last: datetime) -> AlertEvent:
    return AlertEvent(
        fingerprint=heartbeat.name,
        status="firing",
        summary=f"Heartbeat `{heartbeat.name}` missed: no beat since {last:%Y-%m-%d %H:%M} UTC",
        labels={"severity": heartbeat.severity, "heartbeat": heartbeat.name},
        group_key=heartbeat.name,
    )
