"""The HTTP edge of /slack/events: a size limit, Slack's signature on the raw body, parsing,
then Bolt.

Bolt can verify and parse requests itself, but at this edge it falls short: it logs the whole
body of a request with a bad signature (at INFO), a body it cannot parse raises (500 and a
traceback), and it takes any form body that contains the substring "payload" for an
interactive payload, so `/incident open P1 payload-svc down` found no listener and got 404.
So the edge checks and parses each request once, here, and hands Bolt the parsed body as a
request already verified (the way Socket Mode hands it over). No client input gets a 5xx, and
no request body is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest

from bot.redact import redact
from bot.store import answering

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000  # Slack's own payloads are far below 1 MB
# Slack's payloads, Alertmanager's and Grafana's bodies nest a dozen levels at most. A
# document far deeper would overflow Python's stack in the parser or in any walk over it
# later (RecursionError, which is no ValueError): it is refused with a 400 instead.
MAX_JSON_DEPTH = 64
# Slack gives up on an answer 3 s after it sent the request: the writes behind one end by
# this long after it came in, or answer busy; the rest is for rendering the answer on a busy
# host and for the network both ways.
ANSWER_SECONDS = 2.0
SIGNATURE_WINDOW_SECONDS = 300  # Slack's: a request older or newer than 5 minutes is refused


class TooDeep(ValueError):
    """A JSON document nested deeper than MAX_JSON_DEPTH."""


def load_json(raw: str | bytes) -> Any:
    """json.loads for a request body: ValueError when it is not JSON, TooDeep when it nests
    deeper than MAX_JSON_DEPTH (also when the parser itself ran out of stack)."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise TooDeep(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
    if _nesting(data) > MAX_JSON_DEPTH:
        raise TooDeep(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    return data


def _nesting(data: Any) -> int:
    """How deep lists and objects nest in `data`, counted without recursion; it stops
    counting past MAX_JSON_DEPTH."""
    deepest = 0
    waiting = [(data, 1)] if isinstance(data, dict | list) else []
    while waiting and deepest <= MAX_JSON_DEPTH:
        item, level = waiting.pop()
        deepest = max(deepest, level)
        inside = item.values() if isinstance(item, dict) else item
        waiting.extend((child, level + 1) for child in inside if isinstance(child, dict | list))
    return deepest


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})


def refuse(status: int, why: str) -> Answer:
    return Answer(status, why)


def verified(secret: str, headers: dict[str, str | Sequence[str]], raw: bytes, now: float) -> bool:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{raw body}`, within 5 minutes."""
    stamp = str(headers.get("x-slack-request-timestamp", ""))
    signature = str(headers.get("x-slack-signature", ""))
    if not stamp.isdigit() or abs(now - int(stamp)) > SIGNATURE_WINDOW_SECONDS:
        return False
    base = b"v0:" + stamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def parse(raw: bytes, content_type: str) -> dict[str, Any] | None:
    """The request's body as Slack meant it; None when it is not what Slack sends."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "json" in content_type:
        return _json_object(text)
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:  # an interactive request: its one field is a JSON object
        return _json_object(form["payload"])
    return form


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in `text`; None when it is none. TooDeep is raised, to say why."""
    try:
        data = load_json(text)
    except TooDeep:
        raise
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def handle(
    app: App,
    secret: str,
    headers: dict[str, str | Sequence[str]],
    read: Callable[[int], bytes],
    length: str | None,
    query: str = "",
    now: Callable[[], float] = time.time,
) -> Answer:
    """One POST to /slack/events. `headers` have lower-case names; `read(n)` reads the body."""
    began = time.monotonic()
    if length is None or not length.isdigit():
        return refuse(411, "Content-Length required")
    if int(length) > MAX_BODY_BYTES:
        return refuse(413, "request body too large")
    raw = read(int(length))
    if not verified(secret, headers, raw, now()):
        log.info("refused a request with a missing, stale or wrong signature")
        return refuse(401, "invalid signature")
    try:
        body = parse(raw, str(headers.get("content-type", "")))
    except TooDeep as exc:
        log.info("refused a signed request whose body nests too deeply")
        return refuse(400, str(exc))
    if body is None:
        log.info("refused a signed request whose body is not what Slack sends")
        return refuse(400, "malformed body")
    if body.get("ssl_check") == "1":
        return Answer(200)
    request = BoltRequest(body=body, query=query, headers=dict(headers), mode="socket_mode")
    with answering(began + ANSWER_SECONDS):  # what the answer's writes may wait
        response = app.dispatch(request)
    flat = {name: ", ".join(values) for name, values in response.headers.items()}
    return Answer(response.status, redact(response.body), flat)
