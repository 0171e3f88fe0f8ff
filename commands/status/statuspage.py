"""Atlassian Statuspage, when configured: one Statuspage incident per public incident,
created, updated and resolved from Slack. Retries 429 and 5xx with backoff."""

from __future__ import annotations

import time
from typing import Any

import httpx

from bot.deps import Deps
from bot.store import Incident
from commands.status.model import public_title

BACKOFF = (0.5, 1.0, 2.0)
KEY = "statuspage.incident.{number}"


class StatuspageError(Exception):
    """Statuspage kept refusing; the message says how (no key in it)."""


def configured(deps: Deps) -> bool:
    page = deps.settings.status_page
    return page.statuspage_api_key is not None and bool(page.statuspage_page_id)


def _request(deps: Deps, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    page = deps.settings.status_page
    assert page.statuspage_api_key is not None
    url = f"{page.statuspage_url.rstrip('/')}/pages/{page.statuspage_page_id}{path}"
    headers = {"Authorization": f"OAuth {page.statuspage_api_key.get_secret_value()}"}
    answer: httpx.Response | None = None
    for wait in (*BACKOFF, None):
        answer = deps.http.request(method, url, json=body, headers=headers, timeout=10)
        if answer.status_code != 429 and answer.status_code < 500:
            break
        if wait is not None:
            time.sleep(
                float(answer.headers.get("Retry-After", wait))
                if answer.status_code == 429
                else wait
            )
    assert answer is not None
    if answer.status_code >= 400:
        raise StatuspageError(f"Statuspage answered HTTP {answer.status_code}")
    data: dict[str, Any] = answer.json()
    return data


def sync(deps: Deps, incident: Incident, text: str) -> None:
    """Create the Statuspage incident on the first public update, update it afterwards,
    resolve it with the incident."""
    if not configured(deps):
        return
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
    key = KEY.format(number=incident.number)
    known = deps.store.state(key)
    body = {"incident": {"name": public_title(incident), "status": status, "body": text}}
    if known:
        _request(deps, "PATCH", f"/incidents/{known}", body)
        return
    created = _request(deps, "POST", "/incidents", body)
    deps.store.set_state(key, str(created["id"]))
