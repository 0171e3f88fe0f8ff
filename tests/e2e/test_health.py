"""/health through the serve stack against a local stand-in for Prompt-Base's API."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mongomock
import pytest

from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.stack import Stack
from tests.helpers import HTTP


class FakePromptBase:
    """/api/v1/health answering ok, 503, or not at all (hang); analytics with numbers."""

    def __init__(self) -> None:
        self.mode = "ok"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/api/v1/analytics/performance"):
                    return self._json(200, {"errorRate": 0.4, "p50": 80, "p95": 310, "p99": 950})
                if fake.mode == "hang":
                    time.sleep(20)
                code = 503 if fake.mode == "503" else 200
                self._json(code, {"status": "ok" if code == 200 else "down"})

            def _json(self, code: int, data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError):  # the probe gave up waiting
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def promptbase() -> Iterator[FakePromptBase]:
    fake = FakePromptBase()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def make_stack(tmp_path: Path, slack: LocalSlack, fake: FakePromptBase, **extra: Any) -> Stack:
    return Stack(
        slack,
        tmp_path / "opsbot.db",
        Clock(datetime.now(UTC)),
        promptbase_api_url=fake.url,
        health={"timeout_seconds": 2},
        **extra,
    )


def health(stack: Stack, text: str = "") -> tuple[float, dict[str, Any]]:
    """Send /health; return how long the ack took and the card that replaced it."""
    before = len(stack.slack.responses)
    began = time.monotonic()
    answer = stack.command(text, name="/health")
    acked = time.monotonic() - began
    assert answer.status_code == 200 and "Checking Prompt-Base" in answer.json()["text"]
    card = stack.slack.wait_for_responses(before + 1, timeout=10)[-1]
    return acked, card


def test_healthy(tmp_path: Path, promptbase: FakePromptBase) -> None:
    """Every configured check is ok; the card leads with the overall state."""
    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, promptbase, mongo=lambda: mongomock.MongoClient())
        try:
            _, card = health(stack)
        finally:
            stack.stop()
    text = str(card["blocks"])
    assert card["replace_original"] in (True, "true")
    assert card["blocks"][0]["text"]["text"] in (
        ":large_green_circle: Prompt-Base is ok",
        ":large_yellow_circle: Prompt-Base is warning",
    )
    assert "*api*: HTTP 200" in text and "*mongodb*: ping in" in text
    assert "*traffic*: errors 0.4 % · p50 80 ms · p95 310 ms · p99 950 ms" in text


def test_api_503_is_service_down(tmp_path: Path, promptbase: FakePromptBase) -> None:
    """A 503 from the health route is critical: service down."""
    promptbase.mode = "503"
    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, promptbase)
        try:
            _, card = health(stack, "api")
        finally:
            stack.stop()
    assert ":red_circle: *api*: service down: HTTP 503" in str(card["blocks"])


def test_hung_api_still_acks_at_once_and_reports_a_timeout(
    tmp_path: Path, promptbase: FakePromptBase
) -> None:
    """The API hangs 20 s: the ack comes in well under 3 s, the card says it timed out."""
    promptbase.mode = "hang"
    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, promptbase)
        try:
            acked, card = health(stack)
        finally:
            stack.stop()
    assert acked < 1.0
    assert "*api*: service down: no answer in 2 s" in str(card["blocks"])


def test_unreachable_mongo_never_shows_its_password(
    tmp_path: Path, promptbase: FakePromptBase, caplog: pytest.LogCaptureFixture
) -> None:
    """Mongo down with a password in MONGODB_URI: critical, and the password appears nowhere."""
    caplog.set_level(logging.DEBUG)
    uri = "mongodb://admin:hunter2@127.0.0.1:9/promptbase"
    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, promptbase, mongodb_uri=uri)
        try:
            _, card = health(stack, "mongodb")
            stack.run("health-monitor")
        finally:
            stack.stop()
        sent = json.dumps([c.body for c in slack.calls]) + json.dumps(slack.responses)
    assert ":red_circle: *mongodb*: DB connection failure" in str(card["blocks"])
    assert "hunter2" not in sent and "hunter2" not in caplog.text
    assert "hunter2" not in (tmp_path / "opsbot.db").read_bytes().decode("utf-8", "replace")


def test_healthz_reports_the_monitor(tmp_path: Path, promptbase: FakePromptBase) -> None:
    """/healthz shows the monitor's last run once it has run."""
    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, promptbase)
        try:
            stack.run("health-monitor")
            url = stack.url.replace("/slack/events", "/healthz")
            body = HTTP.get(url).json()
        finally:
            stack.stop()
    assert body["monitor"]["ok"] is True and body["monitor"]["last_run"]


def test_app_home_shows_health_oncall_incidents_jobs(
    tmp_path: Path, promptbase: FakePromptBase
) -> None:
    """Opening the Home tab publishes a view with the four sections."""
    from bot.tools.localslack import signed_headers
    from tests.e2e.stack import SECRET

    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, promptbase)
        try:
            stack.run("health-monitor")
            stack.command("open P2 Search slow")
            event = json.dumps(
                {
                    "type": "event_callback",
                    "event_id": "EvHOME1",
                    "team_id": "T0",
                    "api_app_id": "A0",
                    "event": {
                        "type": "app_home_opened",
                        "user": "U0ALICE01",
                        "tab": "home",
                        "channel": "D1",
                    },
                }
            )
            headers = {**signed_headers(event, SECRET), "Content-Type": "application/json"}
            HTTP.post(stack.url, content=event.encode(), headers=headers)
            [call] = slack.wait_for("views.publish")
        finally:
            stack.stop()
    view = json.dumps(call["view"])
    assert call["user_id"] == "U0ALICE01"
    for part in (
        "*Health*",
        "*api*: HTTP 200",
        "*On call:*",
        "INC-1 P2 Search slow",
        "*Next scheduled jobs*",
        "health-monitor",
    ):
        assert part in view
