"""PagerDuty's Events API v2 (the Slack side of a page is commands/incident/effects.py)."""

from __future__ import annotations

import logging

from bot.deps import Deps
from bot.store import Incident

log = logging.getLogger(__name__)


def pagerduty(deps: Deps, action: str, incident: Incident, summary: str = "") -> bool:
    """Send an Events API v2 event (trigger, acknowledge, resolve); False when not configured.
    One dedup key per incident, so PagerDuty folds every event into one alert."""
    oncall = deps.settings.oncall
    if oncall.pagerduty_routing_key is None:
        return False
    event: dict[str, object] = {
        "routing_key": oncall.pagerduty_routing_key.get_secret_value(),
        "event_action": action,
        "dedup_key": f"opsbot-{incident.ref}",
    }
    if action == "trigger":
        event["payload"] = {
            "summary": summary[:1024],
            "source": "opsbot",
            "severity": "critical" if incident.severity == "P0" else "error",
            "custom_details": {"incident": incident.ref, "title": incident.title},
        }
    url = oncall.pagerduty_url.rstrip("/") + "/v2/enqueue"
    answer = deps.http.post(url, json=event, timeout=deps.settings.outbox.timeout_seconds)
    answer.raise_for_status()
    return True
