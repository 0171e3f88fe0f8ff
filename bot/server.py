"""HTTP edge: Bolt's WSGI handler on /slack/events and our /healthz, served by waitress.

waitress is a multi-threaded production WSGI server in pure Python: one process, no extra
service to run, and a slow request does not hold up the others (Bolt's `app.start()` would).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from waitress import create_server

import bot
from bot import edge
from bot.deps import Deps

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

HTTP_THREADS = 32  # Bolt holds a thread per request until ack(); keep a 20-burst unqueued
# waitress stops accepting past 100 open connections (its default); the rest wait in the
# kernel's backlog and their SYNs are retried after 1, 3, 7 s: during an outage, when
# everyone types /health at once, that is an ack past Slack's 3 seconds.
CONNECTION_LIMIT = 1000


MONITOR_STALE = timedelta(minutes=5)


def status(
    deps: Deps,
    scheduler_running: Callable[[], bool],
    started: datetime | None = None,
    slack: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The bot's own health: what /healthz answers and the Dockerfile's HEALTHCHECK reads.
    It is degraded when its database cannot be read or written (disk full, read-only), when
    Slack does not answer, when the health monitor has not run for 5 minutes, or when an
    outbox row or stored event has waited longer than `outbox.degraded_after_seconds`."""
    try:
        store_ok = deps.store.ping()
    except Exception:  # any failure to read the file is "unreachable" here, not a 500
        log.exception("store ping failed")
        store_ok = False
    problem = deps.store.write_problem
    running = scheduler_running()
    last_run = deps.store.state("health.monitor.last_run") if store_ok else None
    since = max(
        filter(None, [started, datetime.fromisoformat(last_run) if last_run else None]),
        default=None,
    )
    monitor_ok = since is None or deps.clock() - since < MONITOR_STALE
    now = deps.outbox.clock()
    patience = deps.settings.outbox.degraded_after_seconds
    delivery = deps.store.outbox_summary(now) if store_ok else {}
    delivery_ok = store_ok and delivery["oldest_seconds"] <= patience
    events = deps.store.inbox_summary(now) if store_ok else {}
    events_ok = store_ok and events["oldest_seconds"] <= patience
    reached = slack() if slack is not None else {"state": "ok"}
    healthy = (
        store_ok
        and problem is None
        and running
        and monitor_ok
        and delivery_ok
        and events_ok
        and reached["state"] == "ok"
    )
    body: dict[str, Any] = {
        "status": "ok" if healthy else "degraded",
        "version": bot.__version__,
        "store": "unreachable" if not store_ok else "unwritable" if problem else "ok",
        "scheduler": "running" if running else "stopped",
        "slack": reached,
        "monitor": {"last_run": last_run, "ok": monitor_ok},
        # Effects owed to Slack and third parties: how many wait, the oldest's age, and how
        # many were given up on (`opsbot outbox` lists them).
        "outbox": {**delivery, "ok": delivery_ok},
        # Slack events stored and not yet processed, and those given up on (`opsbot inbox`).
        "inbox": {**events, "ok": events_ok},
    }
    if problem:
        body["store_problem"] = f"opsbot cannot write its database: {problem}"
    return body


def wsgi_app(
    app: App,
    deps: Deps,
    scheduler_running: Callable[[], bool],
    secret: str,
    slack: Callable[[], dict[str, Any]] | None = None,
) -> Callable[..., Any]:
    started = deps.clock()

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path in ("/status", "/status.json") and method in ("GET", "HEAD"):
            return status_page(deps, path, environ, start_response)
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            body = status(deps, scheduler_running, started, slack)
            code = "200 OK" if body["status"] == "ok" else "503 Service Unavailable"
            start_response(code, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        if path == "/slack/events" and method == "POST":
            return slack_events(app, secret, environ, start_response)
        if path and path.startswith(("/alerts/", "/heartbeat/")) and method == "POST":
            return intake(deps, path, environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return application


def request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    """The request's headers from WSGI's HTTP_* keys, named as sent, in lower case."""
    return {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }


def slack_events(
    app: App, secret: str, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Slack's commands, clicks and events, through the edge (bot/edge.py)."""
    headers: dict[str, str | Sequence[str]] = dict(request_headers(environ))
    headers["content-type"] = str(environ.get("CONTENT_TYPE", ""))
    stream = environ["wsgi.input"]
    answer = edge.handle(
        app,
        secret,
        headers,
        stream.read,
        environ.get("CONTENT_LENGTH") or None,
        query=str(environ.get("QUERY_STRING", "")),
    )
    body = answer.body.encode()
    reason = HTTPStatus(answer.status).phrase
    start_response(
        f"{answer.status} {reason}",
        [*answer.headers.items(), ("Content-Length", str(len(body)))],
    )
    return [body]


def intake(
    deps: Deps, path: str, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Alerts and heartbeats from outside (commands/alerts/http.py)."""
    from commands.alerts import http

    headers = request_headers(environ)
    parts = [p for p in path.split("/") if p]
    limit = deps.settings.alerts.max_body_kb * 1024
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    try:
        if parts[0] == "heartbeat":
            answer = http.heartbeat(deps, parts, headers)
        elif length < 0 or length > limit:
            answer = http.Answer(413, {"error": f"the body is over {limit // 1024} KB"})
        else:
            answer = http.alerts(deps, parts, headers, environ["wsgi.input"].read(length))
    except Exception:  # ours to answer: waitress would log the path, and its secret with it
        ref = secrets.token_hex(2)
        where = "/" + "/".join(parts[:3] if parts[0] == "alerts" else parts[:2])
        log.error("POST %r failed (ref %s)", where, ref, exc_info=True)
        answer = http.Answer(500, {"error": f"opsbot failed (ref {ref}); send it again"})
    body = json.dumps(answer.body).encode()
    start_response(
        f"{answer.status} {HTTPStatus(answer.status).phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def status_page(
    deps: Deps, path: str, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """The public page: built from public data only; an ETag makes repeat readers cheap."""
    from commands.status import model, page

    built = model.build(deps, deps.clock())
    body = page.as_json(built) if path.endswith(".json") else page.as_html(built)
    kind = "application/json" if path.endswith(".json") else "text/html; charset=utf-8"
    tag = page.etag(body)
    headers = [
        ("Content-Type", kind),
        ("ETag", tag),
        ("Cache-Control", "public, max-age=30"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if environ.get("HTTP_IF_NONE_MATCH") == tag:
        start_response("304 Not Modified", headers)
        return [b""]
    start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
    return [body] if environ.get("REQUEST_METHOD") == "GET" else [b""]


def make_server(application: Callable[..., Any], host: str, port: int) -> Any:
    return create_server(
        application,
        host=host,
        port=port,
        threads=HTTP_THREADS,
        connection_limit=CONNECTION_LIMIT,
        # A larger body is refused (413) before it is read: Slack's are far below 1 MB.
        max_request_body_size=edge.MAX_BODY_BYTES,
        ident="opsbot",
    )
