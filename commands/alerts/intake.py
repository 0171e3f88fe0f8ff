"""Alert payloads -> AlertEvent. Pure: a body that does not fit says why (IntakeError -> 400).

Three shapes: Prometheus Alertmanager's webhook (version 4), Grafana alerting's webhook
contact point (the same alert list, more fields), and PagerDuty's Events API v2, so anything
that can page PagerDuty can page opsbot.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import edge

MAX_ALERTS = 1000  # in one body
STATUSES = {"firing": "firing", "resolved": "resolved"}
EVENT_ACTIONS = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}
EVENT_SEVERITIES = ("critical", "error", "warning", "info")


class IntakeError(ValueError):
    """The body is not an alert this endpoint takes; the reason goes back in the 400."""


class TooDeep(IntakeError):
    """A body no monitoring system sends (nested past MAX_JSON_DEPTH): like one too big,
    it is refused before anyone is asked who sent it."""


@dataclass(frozen=True)
class AlertEvent:
    fingerprint: str
    status: str  # firing, resolved, or acknowledged (Events v2)
    summary: str
    labels: dict[str, str] = field(default_factory=dict)
    group_key: str = ""
    url: str | None = None
    started: datetime | None = None

    @property
    def severity(self) -> str | None:
        return self.labels.get("severity")


def parse(kind: str, body: bytes) -> tuple[list[AlertEvent], str]:
    """Events, and the routing_key of an Events v2 body ("" for the others)."""
    try:
        data = edge.load_json(body)
    except edge.TooDeep as exc:
        raise TooDeep(str(exc)) from None
    except (ValueError, UnicodeDecodeError):
        raise IntakeError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise IntakeError("the body must be a JSON object")
    if kind == "events":
        return [_event_v2(data)], str(data.get("routing_key") or "")
    return _alert_list(data), ""


def _alert_list(data: dict[str, Any]) -> list[AlertEvent]:
    """Alertmanager's webhook (version 4) and Grafana's: `alerts` with labels and status."""
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise IntakeError("`alerts` must be a non-empty list")
    if len(alerts) > MAX_ALERTS:
        raise IntakeError(f"at most {MAX_ALERTS} alerts in one body")
    group_key = str(data.get("groupKey") or "")
    found = []
    for number, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise IntakeError(f"alerts[{number}] must be an object")
        labels = _strings(alert.get("labels"), f"alerts[{number}].labels")
        annotations = _strings(alert.get("annotations") or {}, f"alerts[{number}].annotations")
        status = STATUSES.get(str(alert.get("status") or data.get("status") or ""))
        if status is None:
            raise IntakeError(f"alerts[{number}].status must be firing or resolved")
        fingerprint = str(alert.get("fingerprint") or _digest(labels))
        summary = (
            annotations.get("summary")
            or annotations.get("description")
            or labels.get("alertname")
            or fingerprint
        )
        found.append(
            AlertEvent(
                fingerprint=fingerprint,
                status=status,
                summary=summary[:300],
                labels=labels,
                group_key=group_key or fingerprint,
                url=str(alert.get("generatorURL") or "") or None,
                started=_time(alert.get("startsAt")),
            )
        )
    return found


def _event_v2(data: dict[str, Any]) -> AlertEvent:
    action = EVENT_ACTIONS.get(str(data.get("event_action") or ""))
    if action is None:
        raise IntakeError("event_action must be trigger, acknowledge or resolve")
    dedup = str(data.get("dedup_key") or "")
    payload = data.get("payload")
    if action != "firing":
        if not dedup:
            raise IntakeError(f"dedup_key is required to {data['event_action']}")
        return AlertEvent(fingerprint=dedup, status=action, summary="", group_key=dedup)
    if not isinstance(payload, dict):
        raise IntakeError("payload is required to trigger")
    summary, severity = str(payload.get("summary") or ""), str(payload.get("severity") or "")
    source = str(payload.get("source") or "")
    if not summary or not source:
        raise IntakeError("payload.summary and payload.source are required")
    if severity not in EVENT_SEVERITIES:
        raise IntakeError("payload.severity must be critical, error, warning or info")
    labels = {"severity": severity, "source": source[:100]}
    for key in ("component", "group", "class"):
        if payload.get(key):
            labels[key] = str(payload[key])[:100]
    dedup = dedup or _digest({"summary": summary, "source": source})
    links = data.get("links") or []
    url = next((str(x.get("href")) for x in links if isinstance(x, dict) and x.get("href")), None)
    return AlertEvent(
        fingerprint=dedup[:255],
        status="firing",
        summary=summary[:300],
        labels=labels,
        group_key=str(payload.get("group") or dedup)[:255],
        url=url,
        started=_time(payload.get("timestamp")),
    )


def _strings(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise IntakeError(f"{where} must be an object")
    return {str(k)[:100]: str(v)[:500] for k, v in value.items()}


def _digest(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
