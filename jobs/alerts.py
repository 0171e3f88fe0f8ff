"""heartbeat-check: a heartbeat past its interval and grace raises an alert (once per miss).
self-heartbeat: while the scheduler runs and the store answers, ping `self_heartbeat_url`,
so an outside service notices when opsbot itself is down."""

from __future__ import annotations

import logging
from datetime import datetime

import httpx

from bot.deps import Deps
from commands.alerts import heartbeats

log = logging.getLogger(__name__)


def check_heartbeats(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    if not deps.settings.heartbeats:
        return "No heartbeats are configured."
    if dry_run:
        return f"Would check {len(deps.settings.heartbeats)} heartbeats."
    late = heartbeats.check_heartbeats(deps, now)
    if late:
        return f"Missed: {', '.join(late)}."
    still = [
        h.name
        for h in deps.settings.heartbeats
        if (known := deps.store.alerts.heartbeat(h.name)) and known.missed_since
    ]
    return f"Still missed: {', '.join(still)}." if still else "Every heartbeat is on time."


def self_heartbeat(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    url = deps.settings.self_heartbeat_url
    if not url:
        return "self_heartbeat_url is not set."
    if dry_run:
        return "Would ping the self heartbeat URL."
    deps.store.state("jobs.installed_at")  # the store answers, or this raises
    try:
        deps.http.get(url, timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("self heartbeat: %s", type(exc).__name__)  # the URL may hold a token
        return f"The self heartbeat ping failed ({type(exc).__name__})."
    return "Pinged."
