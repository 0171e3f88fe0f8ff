"""Response targets, escalation and reminders through the serve stack, on a controllable clock.

The HTTP edge is the one `opsbot serve` runs (bot.cli.http_server: Bolt + /healthz under
waitress), built in-process so the test owns the clock; timers fire through the same job the
scheduler runs every 30 seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.cli import assemble, http_server
from bot.config import Settings
from bot.deps import Deps
from bot.localslack import LocalSlack, Message, block_action, signed_headers, slash_command
from jobs import run_job
from tests.conftest import Clock
from tests.e2e.test_serve import wait_until

SECRET = "timers-secret"
ALICE = "U0ALICE01"
FORM = "application/x-www-form-urlencoded"


class Stack:
    """One run of the bot: store, outbox, HTTP server. `restart()` is a new process's worth."""

    def __init__(self, slack: LocalSlack, db: Path, clock: Clock) -> None:
        self.slack, self.db, self.clock = slack, db, clock
        self.start()

    def start(self) -> None:
        settings = Settings(opsbot_db=self.db, slack_api_url=self.slack.api_base)
        self.deps: Deps = assemble(settings, "xoxb-timers", clock=self.clock)
        self.server = http_server(self.deps, SECRET, "127.0.0.1", 0, lambda: True)
        self.url = f"http://127.0.0.1:{self.server.effective_port}/slack/events"
        threading.Thread(target=self.server.run, daemon=True).start()

    def stop(self) -> None:
        self.server.close()
        self.deps.outbox.shutdown(wait=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def command(self, text: str, user: str = ALICE) -> httpx.Response:
        body = slash_command(
            "/incident",
            text,
            user=user,
            user_name="alice",
            channel="C0CMD",
            response_url=self.slack.response_url(),
        )
        return self._post(body)

    def press(self, action: dict, message: Message, user: str = ALICE) -> httpx.Response:
        body = block_action(
            action, message, user=user, user_name="alice", response_url=self.slack.response_url()
        )
        return self._post(body)

    def _post(self, body: str) -> httpx.Response:
        headers = {**signed_headers(body, SECRET), "Content-Type": FORM}
        return httpx.post(self.url, content=body.encode(), headers=headers, timeout=10)

    def tick(self, **delta: float) -> str:
        """Let time pass and run the timers job as the scheduler would."""
        self.clock.advance(**delta)
        result = run_job("incident-timers", self.deps, now=self.clock())
        self.deps.outbox.submit(lambda: None).result(timeout=10)  # let its posts land
        return result

    def card(self) -> Message:
        return [m for m in self.slack.history("#incidents") if not m.thread_ts][0]

    def thread(self) -> list[str]:
        return [m.text for m in self.slack.history("#incidents") if m.thread_ts]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with LocalSlack() as slack:
        running = Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)))
        yield running
        running.stop()


def card_text(stack: Stack) -> str:
    return str(stack.card().blocks)


def test_p0_unacknowledged_past_15_minutes_breaches_and_pages(stack: Stack) -> None:
    """The card counts down, shows the breach, and the escalation pages exactly once."""
    stack.command("open P0 Checkout down")
    wait_until(lambda: stack.slack.history("#incidents"))
    assert "(15 min left)" in card_text(stack)

    assert "card refreshed" in stack.tick(minutes=5)  # the countdown moves on the card
    assert "(10 min left)" in card_text(stack)

    assert "response target missed, escalated" in stack.tick(minutes=11)
    assert "target missed: ack overdue since" in card_text(stack)
    [page] = [t for t in stack.thread() if "passed its 15 min response target" in t]
    assert f"<@{ALICE}>" in page  # the page mentions who must act
    breach = [e for e in stack.deps.store.timeline(1) if e.kind == "breach"]
    assert len(breach) == 1 and stack.deps.store.incident(1).breached_at is not None

    stack.tick(minutes=5)
    assert len([t for t in stack.thread() if "response target" in t]) == 1  # no second page


def test_ack_in_time_stops_the_escalation(stack: Stack) -> None:
    """Acknowledged before the target: no breach, no page, the countdown stops."""
    stack.command("open P0 Checkout down")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.clock.advance(minutes=10)
    stack.command("ack")
    wait_until(lambda: "(acknowledged)" in stack.card().text)
    stack.tick(minutes=30)
    assert not [t for t in stack.thread() if "response target" in t]
    assert stack.deps.store.timers(1).keys() == {"status_reminder"}


def test_reminders_survive_a_restart_and_can_be_snoozed(stack: Stack) -> None:
    """A P1's status reminder armed before a restart still reaches the commander after it;
    Snooze pushes the next one back."""
    stack.command("open P1 Login broken")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.command("ack")
    wait_until(lambda: "(acknowledged)" in stack.card().text)
    armed = stack.deps.store.timers(1)["status_reminder"]

    stack.restart()
    assert stack.deps.store.timers(1)["status_reminder"] == armed
    assert "status update reminder sent" in stack.tick(minutes=31)
    [reminder] = stack.slack.methods("chat.postEphemeral")
    assert reminder["user"] == ALICE and "time for a status update" in reminder["text"]

    snooze = [e for b in reminder["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [e["text"]["text"] for e in snooze] == [
        "Snooze 30 min",
        "Snooze 60 min",
        "Snooze 90 min",
    ]
    message = Message(stack.card().channel, "1.000001", "U0OPSBOT", reminder["text"])
    assert stack.press(snooze[1], message).status_code == 200
    answer = stack.slack.wait_for_responses(1)[-1]
    assert answer["text"].startswith(":zzz: Snoozed") and answer["replace_original"] in (
        True,
        "true",
    )
    assert stack.deps.store.timers(1)["status_reminder"] == stack.clock() + timedelta(minutes=60)
    assert "No incident timer is due" in stack.tick(minutes=59)


def test_an_update_resets_the_reminder_and_resolve_disarms_all(stack: Stack) -> None:
    """Giving a status update moves the reminder a full interval on; resolving stops them."""
    stack.command("open P1 Login broken")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.clock.advance(minutes=20)
    stack.command("update Rolled back to v1.4.1")
    assert stack.deps.store.timers(1)["status_reminder"] == stack.clock() + timedelta(minutes=30)
    stack.command("resolve")
    wait_until(lambda: "(resolved)" in stack.card().text)
    assert stack.deps.store.timers(1) == {}


def test_p3_gets_a_still_open_nudge_in_working_hours(stack: Stack) -> None:
    """A P3 gets no status reminders, but a "still open?" in working hours the next day."""
    stack.command("open P3 Typo on the pricing page")
    wait_until(lambda: stack.slack.history("#incidents"))
    due = stack.deps.store.timers(1)["still_open"]
    assert due.weekday() < 5 and 9 <= due.hour < 18 and due > stack.clock()
    assert "status_reminder" not in stack.deps.store.timers(1)
    stack.tick(seconds=(due - stack.clock()).total_seconds())
    assert any("Still happening?" in t for t in stack.thread())
