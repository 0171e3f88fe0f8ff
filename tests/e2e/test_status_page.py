"""The public status page through the serve stack: only what was marked public, ETags, the
public-update reminder, Statuspage and the notice webhook, and a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.fakes import ThirdParty
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP

INTERNAL = "root cause: the payments-db replica in eu-west-2 ran out of disk"
PUBLIC = "We are investigating failed logins and will update within 30 minutes."


@pytest.fixture
def recorder() -> Iterator[ThirdParty]:
    """Plays Statuspage (and a notice webhook): answers 429 then 500 once, then accepts."""
    fake = ThirdParty()
    fake.faults = [("429", 0), 500]
    yield fake
    fake.close()


@pytest.fixture
def stack(tmp_path: Path, recorder: ThirdParty) -> Iterator[Stack]:
    page = {
        "statuspage_api_key": "sp-key",
        "statuspage_page_id": "page1",
        "statuspage_url": f"{recorder.url}/v1",
        "notice_webhook": f"{recorder.url}/notice",
    }
    with LocalSlack() as slack:
        running = Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)), status_page=page)
        yield running
        running.stop()


def page(stack: Stack, path: str = "/status", **headers: str) -> httpx.Response:
    return HTTP.get(stack.url.replace("/slack/events", path), headers=headers, timeout=5)


def open_p0(stack: Stack) -> None:
    stack.command("open P0 Auth service down: payments-db replica")
    wait_until(
        lambda: (
            stack.deps.store.incidents.incident(1)
            and stack.deps.store.incidents.incident(1).card_ts
        )
    )
    stack.command(f"update INC-1 {INTERNAL}")
    stack.command("public-title INC-1 Login problems")


def test_public_update_appears_then_moves_to_history(stack: Stack, recorder: ThirdParty) -> None:
    """Only the public title and update show; resolving moves the incident to history."""
    open_p0(stack)
    assert "Login problems" not in page(stack).text  # nothing public until an update
    stack.command(f"public INC-1 {PUBLIC}")
    shown = page(stack)
    assert shown.status_code == 200 and "Login problems" in shown.text and PUBLIC in shown.text
    for secret in (INTERNAL, "payments-db", "U0ALICE01", "#incidents", "C0"):
        assert secret not in shown.text, secret
    data = page(stack, "/status.json").json()
    assert data["status"] == "major outage" and data["incidents"][0]["latest_update"] == PUBLIC

    stack.command("resolve INC-1 Replica disk expanded")
    wait_until(lambda: page(stack, "/status.json").json()["incidents"] == [])
    history = page(stack, "/status.json").json()["history"]
    assert history[-1]["status"] == "major outage" and len(history) == 90

    wait_until(
        lambda: any(
            c["body"].get("incident", {}).get("status") == "resolved" for c in recorder.calls
        ),
        timeout=10,
    )
    statuspage = [c for c in recorder.calls if c["path"].startswith("/v1/")]
    assert [c["method"] for c in statuspage] == ["POST", "POST", "POST", "PATCH"]  # 429, 500
    assert statuspage[0]["auth"] == "OAuth sp-key"
    assert statuspage[2]["body"]["incident"]["name"] == "Login problems"
    assert INTERNAL not in json.dumps(recorder.calls)


def test_etag_makes_repeat_readers_cheap(stack: Stack) -> None:
    """The same page twice: the second read with If-None-Match is a 304 with no body."""
    first = page(stack)
    assert first.headers["Cache-Control"] == "public, max-age=30"
    again = page(stack, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_public_update_reminder_at_15_then_30_minutes(stack: Stack) -> None:
    """P0: reminded when no public update by 15 min, then 30 min after each update."""
    open_p0(stack)
    assert "reminder sent to the commander (public update)" in stack.tick(minutes=15)
    stack.command(f"public INC-1 {PUBLIC}")
    assert "reminder sent" not in stack.tick(minutes=29)
    assert "and public update)" in stack.tick(minutes=2)
    reminders = [
        m
        for m in stack.slack.methods("chat.postEphemeral")
        if "a public status update (`/incident public INC-1" in m["text"]
    ]
    assert len(reminders) == 2 and "the last one was 31 min ago" in reminders[1]["text"]


def test_long_outage_sends_the_notice_and_then_the_resolution(
    stack: Stack, recorder: ThirdParty
) -> None:
    """Past an hour the ongoing notice goes to the webhook; resolving sends the resolved one."""
    open_p0(stack)
    recorder.faults.clear()
    assert "ongoing notice sent" in stack.tick(minutes=61)
    stack.command("resolve INC-1 Fixed")
    wait_until(lambda: len([c for c in recorder.calls if c["path"] == "/notice"]) == 2, timeout=10)
    notices = [c["body"] for c in recorder.calls if c["path"] == "/notice"]
    assert [n["state"] for n in notices] == ["ongoing", "resolved"]
    assert notices[1]["subject"].startswith("[RESOLVED] Service Disruption")


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        capture_output=True,
        timeout=600,
    )
    return shutil.which("chromium")


def test_page_in_a_real_browser(stack: Stack, tmp_path: Path) -> None:
    """Headless Chromium renders the incident and its public update, never the internal note."""
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed and could not be (apt-get install chromium)")
    open_p0(stack)
    stack.command(f"public INC-1 {PUBLIC}")
    url = stack.url.replace("/slack/events", "/status")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=60
    ).stdout
    assert "Login problems" in dom and PUBLIC in dom and INTERNAL not in dom
    shot = tmp_path / "status.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=420,900", url],
        capture_output=True,
        timeout=60,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nothing_configured_is_not_all_green(stack: Stack) -> None:
    """No API and no MongoDB configured: /health does not say Prompt-Base is ok, and the
    status page claims no operational component or day the bot never observed."""
    stack.command("", name="/health")
    said = wait_until(lambda: [r for r in stack.slack.responses if "Prompt-Base" in str(r)])
    assert "Prompt-Base is not monitored" in str(said[-1])
    assert "Prompt-Base is ok" not in str(said[-1])

    page = HTTP.get(stack.url.replace("/slack/events", "/status.json"), timeout=5).json()
    assert page["status"] in ("not monitored", "no data")
    assert {c["status"] for c in page["components"]} <= {"not monitored", "no data"}
    assert {d["status"] for d in page["history"]} == {"no data"}

    stack.run("health-monitor")  # checks this host only: still nothing about Prompt-Base
    page = HTTP.get(stack.url.replace("/slack/events", "/status.json"), timeout=5).json()
    assert page["status"] == "not monitored"
    assert {d["status"] for d in page["history"]} == {"no data"}
    html = HTTP.get(stack.url.replace("/slack/events", "/status"), timeout=5).text
    assert "Overall: not monitored" in html
