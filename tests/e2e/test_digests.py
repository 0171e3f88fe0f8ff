"""Digests through the serve stack: a controllable clock, a local Prompt-Base stand-in and a
stand-in `npm` on PATH (a real executable)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.tools.localslack import LocalSlack, Message, reaction_event, signed_headers
from jobs import scheduled_run
from tests.conftest import Clock
from tests.e2e.stack import SECRET, Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP, programs_on_path

ALICE, BOB = "U0ALICE01", "U0BOB0001"
MONDAY_0859 = datetime(2026, 11, 30, 8, 59, tzinfo=UTC)
FAKE_NPM = """#!{python}
import json, sys
if sys.argv[1] == "outdated":
    print(json.dumps({{"express": {{"current": "4.18.1", "wanted": "4.18.2", "latest": "5.0.0"}},
                      "mongoose": {{"current": "8.1.0", "wanted": "8.2.0", "latest": "8.2.0"}},
                      "cors": {{"current": "2.8.4", "wanted": "2.8.5", "latest": "2.8.5"}}}}))
    sys.exit(1)
print(json.dumps({{"metadata": {{"vulnerabilities": {{"critical": 0, "high": 1, "moderate": 2,
                                                    "low": 0}}}}}}))
sys.exit(1)
"""


class FakeApi:
    def __init__(self) -> None:
        self.feedback_status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/api/v1/feedback?status=new"):
                    code, body = (
                        fake.feedback_status,
                        {
                            "data": [
                                {"priority": "low", "title": "Dark mode"},
                                {"priority": "critical", "title": "Cannot log in on Safari"},
                            ]
                        },
                    )
                elif self.path.startswith("/api/v1/feedback"):
                    code, body = 200, [{"title": "bug"}] * 4
                elif self.path.startswith("/api/v1/analytics"):
                    code, body = 200, {"p50": 90, "p95": 420, "p99": 990, "errorRate": 0.6}
                else:
                    code, body = 200, {"status": "ok"}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def stack(tmp_path: Path, api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    programs_on_path(monkeypatch, tmp_path / "bin", {"npm": FAKE_NPM})
    backend = tmp_path / "backend"
    backend.mkdir()
    log = tmp_path / "backend.log"
    log.write_text(
        "\n".join(
            [f"2026-11-30T0{h}:00:00Z ERROR TimeoutError: query 4{h} took 3000ms" for h in range(5)]
            + ["2026-11-29T05:00:00Z ERROR yesterday's error", "2026-11-30T06:00:00Z INFO fine"]
        )
    )
    with LocalSlack() as slack:
        running = Stack(
            slack,
            tmp_path / "opsbot.db",
            Clock(MONDAY_0859),
            promptbase_api_url=api.url,
            health={"timeout_seconds": 2},
            digest={"log_files": [str(log)], "npm_dirs": [str(backend)]},
        )
        yield running
        running.stop()


def digests(stack: Stack) -> list[Message]:
    return [
        m for m in stack.slack.history("#incidents") if "check ·" in m.text or "tasks ·" in m.text
    ]


def react(stack: Stack, message: Message, name: str, user: str) -> None:
    stack.slack.react(message, user, name)
    body = reaction_event(message, user=user, name=name, added=True)
    headers = {**signed_headers(body, SECRET), "Content-Type": "application/json"}
    assert HTTP.post(stack.url, content=body.encode(), headers=headers).status_code == 200


def test_daily_digest_posts_once_and_its_reviews_fill_the_log(stack: Stack) -> None:
    """Due at 09:00: posted once (also across a restart); ✅ is recorded and in the log;
    ⚠️ opens one P3."""
    stack.deps.store.jobs.claim_run("daily-digest", MONDAY_0859 - timedelta(days=3), MONDAY_0859)
    assert scheduled_run("daily-digest", stack.deps, stack.clock()) is None  # not due yet
    stack.clock.advance(minutes=3)  # 09:02: the bot was down at 09:00 and just came back
    assert "Daily digest D1 posted" in scheduled_run("daily-digest", stack.deps, stack.clock())
    stack.restart()
    assert scheduled_run("daily-digest", stack.deps, stack.clock()) is None
    stack.settle()
    [daily] = digests(stack)
    text = str(daily.blocks)
    assert "5 error lines in 24 h (1 the day before)" in text
    assert "2 new (1 high or critical)" in text and "[critical] Cannot log in on Safari" in text
    assert "Server health" in text and "Last backup" in text

    react(stack, daily, "white_check_mark", ALICE)
    wait_until(lambda: "Reviewed by <@U0ALICE01>" in str(digests(stack)[0].blocks))
    log = stack.command("log 2026-11", user=BOB, name="/health").json()["text"]
    assert "# Maintenance Log - November 2026" in log
    assert "- [x] Mon 30: Error logs ✓ | Health ✓ | Feedback ✓" in log

    react(stack, daily, "warning", BOB)
    react(stack, daily, "warning", ALICE)  # a second ⚠️ adds no second incident
    wait_until(lambda: stack.deps.store.incidents.find(open_only=True))
    stack.settle()
    [p3] = stack.deps.store.incidents.find(open_only=True)
    assert p3.severity == "P3" and p3.title.startswith("Follow-up from the daily check")


def test_a_failing_source_is_a_failed_section(stack: Stack, api: FakeApi) -> None:
    """The feedback API answers 500: its section says so and the digest still posts."""
    api.feedback_status = 500
    stack.clock.advance(minutes=1)
    assert "failed: User feedback" in stack.run("daily-digest")
    text = str(digests(stack)[0].blocks)
    assert ":x: *User feedback*\\nCould not read it: HTTPStatusError" in text
    assert "*Error logs*" in text


def test_per_check_buttons_and_the_nudge(stack: Stack) -> None:
    """Without a review by the cut-off the on-call person is nudged; a button marks one check."""
    stack.oncall(f"set <@{BOB}>")
    stack.run("daily-digest", minutes=1)
    assert "Nudged about D1" in stack.run("digest-nudge", hours=3)
    nudge = [m.text for m in stack.slack.history("#incidents") if m.thread_ts]
    assert nudge and nudge[-1].startswith(f"<@{BOB}> Today's daily check has no review yet")
    daily = digests(stack)[0]
    button = next(
        e
        for b in daily.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Health reviewed"
    )
    stack.press(button, daily, user=BOB)
    wait_until(lambda: "✓ Health reviewed" in str(digests(stack)[0].blocks))
    assert "D1 was reviewed" in stack.run("digest-nudge")


def test_weekly_digest_summarises_npm_and_records_done_items(stack: Stack) -> None:
    """npm outdated/audit (exit 1 is an answer), performance, bugs; Done buttons record who."""
    assert "Weekly digest" in stack.run("weekly-digest", minutes=31)
    [weekly] = digests(stack)
    text = str(weekly.blocks)
    assert "outdated 1 patch, 1 minor, 1 major; vulnerabilities 0 critical, 1 high" in text
    assert "p95 420 ms" in text and "4 open bug reports" in text
    assert "0 pages (0 at night, 0 at the weekend, in each one's own time); 0 incidents" in text
    done = next(
        e
        for b in weekly.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Done: Backup verification"
    )
    stack.press(done, weekly, user=ALICE)
    wait_until(lambda: "✅ Backup verification — <@U0ALICE01>" in str(digests(stack)[0].blocks))
    log = stack.command("log", name="/health").json()["text"]
    assert "- [x] Backup verification" in log and "- [ ] Dependency updates" in log


def test_monthly_quarterly_annual_checklists_and_month_end_log(stack: Stack) -> None:
    """The longer cycles post their checklists; the monthly one says how October went on
    incidents, then its figures and charts follow; the log posts only on the last day and
    carries the month's figures too."""
    from bot.domain.incidents import service

    october = datetime(2026, 10, 5, 10, 0, tzinfo=UTC)
    opened = service.open_incident(
        stack.deps.store, stack.deps.settings, title="Old", severity="P2", actor=ALICE, now=october
    )
    acked = october + timedelta(minutes=25)
    service.acknowledge(
        stack.deps.store, stack.deps.settings, opened.number, actor=ALICE, now=acked
    )
    for job in ("monthly-digest", "quarterly-digest", "annual-digest"):
        assert "digest D" in stack.run(job)
    titles = [m.text.split(":")[0] for m in digests(stack)]
    assert titles[0].startswith("Monthly tasks") and titles[2].startswith("Annual tasks")
    assert "Security audit" in str(digests(stack)[0].blocks)
    assert "Incidents in October 2026" in str(digests(stack)[0].blocks)
    assert "P2: 1 opened · acknowledged in 25 min median" in str(digests(stack)[0].blocks)
    stack.settle()
    charts = [m.files[0]["name"] for m in stack.slack.history("#incidents") if m.files]
    assert "incidents-weekly.png" in charts
    log = stack.command("log 2026-10", name="/health").json()["text"]
    assert "## Incident Figures" in log and "- P2: 1 opened · acknowledged in 25 min" in log
    assert "Not the last day" in stack.run("maintenance-log", days=10)
    stack.clock.now = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert "Posted the maintenance log of December 2026" in stack.run("maintenance-log")


def test_a_log_line_quoting_a_password_breaks_no_digest_reader(stack: Stack) -> None:
    """An error line with password="…" among the daily digest's sources is posted masked,
    and the nudge, a review button, `/health log` and the month's log still read the digest."""
    source = Path(stack.deps.settings.digest.log_files[0])
    line = '2026-11-30T07:00:00Z ERROR login failed: password="hunter2hunter2" rejected'
    source.write_text(source.read_text() + "\n" + line + "\n")
    stack.oncall(f"set <@{BOB}>")
    stack.run("daily-digest", minutes=1)
    [daily] = digests(stack)
    assert 'login failed: password="***" rejected' in str(daily.blocks)
    assert "hunter2" not in str(daily.blocks)
    assert "Nudged about D1" in stack.run("digest-nudge", hours=3)
    button = next(
        e
        for b in daily.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Error logs reviewed"
    )
    stack.press(button, daily, user=BOB)
    wait_until(lambda: "✓ Error logs reviewed" in str(digests(stack)[0].blocks))
    log = stack.command("log 2026-11", user=BOB, name="/health").json()["text"]
    assert "# Maintenance Log - November 2026" in log and "Mon 30: Error logs ✓" in log
    assert "Posted the maintenance log of November 2026" in stack.run("maintenance-log", hours=5)
