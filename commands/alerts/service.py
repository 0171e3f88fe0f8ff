"""Alerts in: de-duplicate, group, route, silence, resolve; heartbeats.

Every alert is a row keyed by its source and fingerprint: a repeat updates it, a change of
status is a timeline entry on its incident. Routing rules (first match wins) open or join an
incident, post in a channel, or drop. A source past `storm_per_minute` has its posts folded
into one summary message per channel, updated in place; its incidents still get every entry.
A source's alerts open at most `incident_cap` incidents per `incident_cap_minutes` (counted in
the database, so every process sees the same count); past it, new groups join the source's
one alert storm incident, so a flood cannot bury a page behind its own cards.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alert_settings import AlertRule
from bot.config import Settings
from bot.deps import Deps
from bot.domain.incidents import effects
from bot.domain.incidents.card import STEP_ACTIONS
from bot.domain.incidents.outcome import publish, resolve
from bot.replies import Reply, blocks, buttons, section
from bot.store import Entry, Silence
from commands.alerts.intake import AlertEvent
from commands.alerts.storms import (
    OPENED_KEY,
    incident_for,
    is_open,
    post_alert,
    taken_in,
)

log = logging.getLogger(__name__)

OFFERED_KEY = "alerts.offered.{}"  # "All alerts resolved: Resolve?" was posted


@dataclass(frozen=True)
class Received:
    new: int = 0
    changed: int = 0
    repeats: int = 0
    silenced: int = 0


def rule_for(settings: Settings, source: str, labels: dict[str, str]) -> AlertRule | None:
    for rule in settings.alerts.rules:
        if rule.source not in ("*", source):
            continue
        if all(labels.get(key) == value for key, value in rule.match.items()):
            return rule
    return None


def silence_for(silences: list[Silence], source: str, labels: dict[str, str]) -> int | None:
    """The first of `silences` (those in force) that covers this alert."""
    found = next((s for s in silences if matches(s.matchers, source, labels)), None)
    return found.id if found else None


def matches(matchers: dict[str, str], source: str, labels: dict[str, str]) -> bool:
    """`source` matches the alert's source; `component` a component or service label."""
    for key, wanted in matchers.items():
        if key == "source":
            found: str | None = source
        elif key == "component":
            found = labels.get("component") or labels.get("service")
        else:
            found = labels.get(key)
        if found != wanted:
            return False
    return True


def receive(deps: Deps, source: str, events: list[AlertEvent], now: datetime) -> Received:
    """Everything one body says, in one transaction with the effects it owes."""
    counts = collections.Counter[str]()
    touched: set[int] = set()
    limit = deps.settings.alerts.storm_per_minute
    with deps.store.atomic():
        # read once for the whole body (up to 1,000 alerts), not once per alert
        silences = [s for s in deps.store.alerts.silences(now) if s.starts_at <= now]
        # every alert counts toward a storm, repeats too: the rate is the source's
        before = deps.store.alerts.count_alerts(source, now, len(events))
        for arrived, event in enumerate(events, start=1):
            storming = before + arrived > limit
            kind, incident = _one(deps, source, event, now, silences, storming)
            counts[kind] += 1
            if incident is not None:
                touched.add(incident)
        for number in sorted(touched):
            effects.card(deps, number)
            _all_resolved(deps, number)
    return Received(counts["new"], counts["changed"], counts["repeat"], counts["silenced"])


def _one(
    deps: Deps,
    source: str,
    event: AlertEvent,
    now: datetime,
    silences: list[Silence],
    storming: bool,
) -> tuple[str, int | None]:
    known = deps.store.alerts.alert(source, event.fingerprint)
    if known is None and event.status != "firing":
        return "repeat", None  # a resolve for an alert never seen: nothing to change
    labels = event.labels or (known.labels if known else {})
    summary = event.summary or (known.summary if known else event.fingerprint)
    changed = known is None or known.status != event.status
    group = _group_key(deps.settings, source, event, labels)
    silenced = silence_for(silences, source, labels) if event.status == "firing" else None
    row: dict[str, Any] = {
        "source": source,
        "fingerprint": event.fingerprint,
        "status": event.status,
        "severity": labels.get("severity"),
        "summary": summary,
        "labels": labels,
        "group_key": known.group_key if known else group,
        "url": event.url or (known.url if known else None),
        "last_seen": now,
        "first_seen": known.first_seen if known else now,
        "resolved_at": now if event.status == "resolved" else None,
        "repeats": (known.repeats + (0 if changed else 1)) if known else 0,
        # a silence is decided when an alert starts firing; its repeats keep that decision
        "silenced_by": silenced if changed else (known.silenced_by if known else None),
        "incident_id": known.incident if known else None,
    }
    if not changed:
        deps.store.alerts.save_alert(row)
        return "repeat", None
    if row["silenced_by"] is not None and event.status == "firing":
        deps.store.alerts.save_alert(row)
        return "silenced", None
    rule = rule_for(deps.settings, source, labels)
    if rule is None or rule.action == "drop":
        deps.store.alerts.save_alert(row)
        return ("new" if known is None else "changed"), None
    if rule.action == "post":
        alert_id = deps.store.alerts.save_alert(row)
        post_alert(deps, rule, source, row, storming)
        return ("new" if known is None else "changed"), _note_on_incident(deps, row, alert_id, now)
    number = row["incident_id"]
    closed = number is not None and not is_open(deps, number)
    if closed:  # its incident is over: firing again starts anew, anything else is history
        number = None
    stormed = False
    if number is None and event.status == "firing":
        number, stormed = incident_for(deps, rule, source, row, now)
    row["incident_id"] = number if number is not None else row["incident_id"]
    alert_id = deps.store.alerts.save_alert(row)
    if number is not None:
        _entry(deps, number, alert_id, source, row, now)
    if stormed and number is not None:
        taken_in(deps, number, source, row, now)
    return ("new" if known is None else "changed"), number


def _group_key(settings: Settings, source: str, event: AlertEvent, labels: dict[str, str]) -> str:
    by = settings.alerts.group_by
    if by:
        return ",".join(f"{key}={labels.get(key, '')}" for key in by)
    return event.group_key or event.fingerprint


# Alert storms: past the cap, one incident per source takes in every new group ------------


def _entry(
    deps: Deps, number: int, alert_id: int, source: str, row: dict[str, Any], now: datetime
) -> None:
    verb = {"firing": "firing", "resolved": "resolved", "acknowledged": "acknowledged at source"}
    labels = ", ".join(f"{k}={v}" for k, v in sorted(row["labels"].items())[:6])
    text = f"Alert {verb[row['status']]} ({source}): {row['summary']}" + (
        f" [{labels}]" if labels and row["status"] == "firing" else ""
    )
    sequence = deps.store.alerts.alert_changes(alert_id, number)
    deps.store.incidents.add_entry(
        number, Entry(now, None, "alert", text, f"alert:{alert_id}:{row['status']}:{sequence}")
    )


def _note_on_incident(deps: Deps, row: dict[str, Any], alert_id: int, now: datetime) -> int | None:
    number = row["incident_id"]
    if number is not None:
        _entry(deps, number, alert_id, row["source"], row, now)
    return int(number) if number is not None else None


def _all_resolved(deps: Deps, number: int) -> None:
    """Every alert of an incident that alerts opened has resolved: resolve it (the rule's
    auto_resolve) or offer to, once."""
    opened = deps.store.state(OPENED_KEY.format(number))
    incident = deps.store.incidents.incident(number)
    if not opened or incident is None or not incident.is_open:
        return
    alerts = deps.store.alerts.find(firing_only=False, incident=number)
    if not alerts or any(a.status != "resolved" for a in alerts):
        deps.store.set_state(OFFERED_KEY.format(number), "")
        return
    if opened == "auto":
        outcome = resolve(deps, number, "All alerts resolved", actor="opsbot")
        publish(outcome, deps)
        return
    if deps.store.state(OFFERED_KEY.format(number)):
        return
    deps.store.set_state(OFFERED_KEY.format(number), "1")
    text = f"All alerts of {incident.ref} have resolved. Resolve the incident?"
    offer = Reply(
        text,
        blocks=blocks(
            section(f":white_check_mark: {text}"),
            buttons(
                [(STEP_ACTIONS["Resolve"], "Resolve", str(number), "primary")],
                block_id=f"alerts.resolve.{number}",
            ),
        ),
    )
    effects.thread(deps, number, offer)


# Posts, and storms ---------------------------------------------------------------------------


# Heartbeats ----------------------------------------------------------------------------------
