"""HTTP edge: Bolt's WSGI handler on /slack/events and our /healthz, served by waitress.

waitress is a multi-threaded production WSGI server in pure Python: one process, no extra
service to run, and a slow request does not hold up the others (Bolt's `app.start()` would).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from waitress import create_server

import bot
from bot import edge
from bot.deps import Deps
from bot.surface import Route

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
    leader: Callable[[], dict[str, Any]] | None = None,
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
    delivery = deps.store.outbox.outbox_summary(now) if store_ok else {}
    delivery_ok = store_ok and delivery["oldest_seconds"] <= patience
    events = deps.store.inbox.inbox_summary(now) if store_ok else {}
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
        "engine": deps.store.engine.dialect.name,
        # Which of the processes serving the database leads, and since when (bot/leader.py).
        **(leader() if leader is not None else {"role": "leader"}),
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
    routes: Sequence[Route] = (),
    leader: Callable[[], dict[str, Any]] | None = None,
) -> Callable[..., Any]:
    """/slack/events and /healthz, and the `routes` the surfaces declare (the alert intake,
    the status page), handed over by the composition root."""
    started = deps.clock()

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = str(environ.get("PATH_INFO", "")), str(environ.get("REQUEST_METHOD", ""))
        if path == "/healthz" and method == "GET":
            body = status(deps, scheduler_running, started, slack, leader)
            code = "200 OK" if body["status"] == "ok" else "503 Service Unavailable"
            start_response(code, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        if path == "/slack/events" and method == "POST":
            return slack_events(app, secret, environ, start_response)
        for route in routes:
            if route.matches(path, method):
                return route.handle(deps, environ, start_response)
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
        # poll(), not select(): select() cannot watch a descriptor numbered past 1024, and a
        # busy process can hold that many files and sockets.
        asyncore_use_poll=True,
    )
