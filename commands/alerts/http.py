"""The intake endpoints on `opsbot serve`: POST /alerts/<kind>/<source> and
POST /heartbeat/<name>, each with its secret as a bearer token or one more path segment.

An unknown source and a wrong secret look the same (401) and change nothing; a body too big
is 413 and one nested too deep 400 (whoever sent them), one that is not an alert 400 with the
reason; never a 5xx for what was sent.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from bot.deps import Deps
from bot.server import request_headers
from bot.store import StoreBusy
from commands.alerts import heartbeats, intake, service

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _secret_ok(given: str, wanted: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), wanted.encode())


def _given(parts: list[str], headers: dict[str, str], at: int) -> str:
    bearer = headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        return bearer[7:].strip()
    return parts[at] if len(parts) > at else ""


def alerts(deps: Deps, parts: list[str], headers: dict[str, str], body: bytes) -> Answer:
    """parts: ["alerts", kind, source, (secret)]."""
    if len(parts) not in (3, 4):
        return Answer(404, {"error": "POST /alerts/<alertmanager|grafana|events>/<source>"})
    kind, name = parts[1], parts[2]
    source = next((s for s in deps.settings.alerts.sources if s.name == name), None)

    def allowed(given: str) -> bool:
        known = source is not None and source.kind == kind
        return known and _secret_ok(given, source.secret.get_secret_value() if source else "")

    refused = Answer(401, {"error": "unknown source or wrong secret"})
    try:
        events, routing_key = intake.parse(kind, body)
    except intake.TooDeep as exc:  # like a body too big: refused whoever sent it
        return Answer(400, {"error": str(exc)})
    except intake.IntakeError as exc:  # the reason goes only to whoever may send here
        return Answer(400, {"error": str(exc)}) if allowed(_given(parts, headers, 3)) else refused
    if not allowed(_given(parts, headers, 3) or routing_key):  # Events v2: its routing_key
        return refused
    try:
        done = service.receive(deps, name, events, deps.clock())
    except StoreBusy:
        return Answer(503, {"error": "busy; nothing was recorded, send it again"})
    answer: dict[str, Any] = {"status": "success", **done.__dict__}
    if kind == "events":
        answer["dedup_key"] = events[0].fingerprint  # as PagerDuty answers
    return Answer(202, answer)


def heartbeat(deps: Deps, parts: list[str], headers: dict[str, str]) -> Answer:
    """parts: ["heartbeat", name, (secret)]."""
    if len(parts) not in (2, 3):
        return Answer(404, {"error": "POST /heartbeat/<name>"})
    found = next((h for h in deps.settings.heartbeats if h.name == parts[1]), None)
    wanted = found.secret.get_secret_value() if found and found.secret else ""
    if found is None or not wanted or not _secret_ok(_given(parts, headers, 2), wanted):
        return Answer(401, {"error": "unknown heartbeat or wrong secret"})
    try:
        heartbeats.beat(deps, found.name, deps.clock())
    except StoreBusy:
        return Answer(503, {"error": "busy; send it again"})
    return Answer(200, {"status": "ok"})


def serve(deps: Deps, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """POST /alerts/... and /heartbeat/...: the routes this package declares."""
    path = str(environ.get("PATH_INFO", ""))
    headers = request_headers(environ)
    parts = [p for p in path.split("/") if p]
    limit = deps.settings.alerts.max_body_kb * 1024
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    try:
        if parts[0] == "heartbeat":
            answer = heartbeat(deps, parts, headers)
        elif length < 0 or length > limit:
            answer = Answer(413, {"error": f"the body is over {limit // 1024} KB"})
        else:
            answer = alerts(deps, parts, headers, environ["wsgi.input"].read(length))
    except Exception:  # ours to answer: waitress would log the path, and its secret with it
        ref = secrets.token_hex(2)
        where = "/" + "/".join(parts[:3] if parts[0] == "alerts" else parts[:2])
        log.error("POST %r failed (ref %s)", where, ref, exc_info=True)
        answer = Answer(500, {"error": f"opsbot failed (ref {ref}); send it again"})
    body = json.dumps(answer.body).encode()
    start_response(
        f"{answer.status} {HTTPStatus(answer.status).phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
