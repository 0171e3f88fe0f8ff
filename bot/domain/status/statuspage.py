"""Atlassian Statuspage, when configured: one Statuspage incident per public incident,
created, updated and resolved from Slack, through the outbox's "statuspage" lane."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.domain.status.model import public_title
from bot.slacktext import plain
from bot.store import Incident

KEY = "statuspage.incident.{number}"


def configured(deps: Deps) -> bool:
    page = deps.settings.status_page
    return page.statuspage_api_key is not None and bool(page.statuspage_page_id)


def _request(deps: Deps, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One call; a 429 or 5xx raises (httpx.HTTPStatusError) and the outbox retries it,
    honouring Retry-After, on Statuspage's own lane: no card waits behind it."""
    page = deps.settings.status_page
    assert page.statuspage_api_key is not None
    url = f"{page.statuspage_url.rstrip('/')}/pages/{page.statuspage_page_id}{path}"
    headers = {"Authorization": f"OAuth {page.statuspage_api_key.get_secret_value()}"}
    timeout = deps.settings.outbox.timeout_seconds
    answer = deps.http.request(method, url, json=body, headers=headers, timeout=timeout)
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()
    return data


def body(incident: Incident, text: str) -> dict[str, Any]:
    """What Statuspage is told, decided when the change is made."""
    status = (
        "resolved"
        if not incident.is_open
        else (
            "monitoring"
            if incident.status == "monitoring"
            else "identified"
            if incident.status in ("identified", "mitigating")
            else "investigating"
        )
    )
    body = plain(text, public=True)
    return {"incident": {"name": public_title(incident), "status": status, "body": body}}


def deliver(deps: Deps, incident: Incident, update: dict[str, Any], only_if_created: bool) -> None:
    """Create the Statuspage incident on the first public update, update it afterwards,
    resolve it with the incident."""
    key = KEY.format(number=incident.number)
    known = deps.store.state(key)
    if known:
        _request(deps, "PATCH", f"/incidents/{known}", update)
        return
    if only_if_created:
        return
    created = _request(deps, "POST", "/incidents", update)
    deps.store.set_state(key, str(created["id"]))
