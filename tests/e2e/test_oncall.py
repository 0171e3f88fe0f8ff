"""/oncall and escalation through the serve stack, on a controllable clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.tools.localslack import LocalSlack, Message
from tests.conftest import Clock
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until

ALICE, BOB, CAROL, BOSS = "U0ALICE01", "U0BOB0001", "U0CAROL01", "U0BOSS001"
WEDNESDAY = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


class FakePagerDuty:
    """Events API v2 on loopback: records every enqueued event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = self.path == "/v2/enqueue"
                if ok:
                    events.append(json.loads(body))
                self.send_response(202 if ok else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "success"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def stack(tmp_path: Path, pagerduty: FakePagerDuty) -> Iterator[Stack]:
    config = {
        "oncall": {
            "escalation": BOSS,
            "escalation_delay_minutes": 15,
            "admins": [ALICE],
            "pagerduty_routing_key": "pd-routing-key",
            "pagerduty_url": pagerduty.url,
            "usergroup": "S0ONCALL1",
        }
    }
    with LocalSlack() as slack:
        running = Stack(slack, tmp_path / "opsbot.db", Clock(WEDNESDAY), **config)
        yield running
        running.stop()


def ask(stack: Stack, text: str, user: str = ALICE) -> str:
    answer = stack.oncall(text, user)
    assert answer.status_code == 200
    return str(answer.json()["text"] if answer.content else "")


def who_now(stack: Stack) -> str:
    return ask(stack, "").splitlines()[0]


def test_rotation_override_swap_survive_a_restart(stack: Stack) -> None:
    """Set, query, override, swap accepted by the other person; all kept across a restart."""
    assert "Only <@U0ALICE01> may change the rotation" in ask(
        stack, f"set <@{BOB}> <@{ALICE}>", user=BOB
    )
    assert "Nobody is on call" in ask(stack, "")
    assert "Rotation set" in ask(stack, f"set <@{ALICE}|alice> <@{BOB}|bob> <@{CAROL}|carol>")

    now = ask(stack, "", user=BOB)
    assert f"*On call now:* <@{ALICE}> since 2026-11-30 09:00 UTC, until 2026-12-07 09:00" in now
    assert f"*Next:* <@{BOB}> from 2026-12-07 09:00 UTC" in now
    assert "*Your next shift:* 2026-12-07 09:00 UTC → 2026-12-14 09:00 UTC" in now
    schedule = str(stack.oncall("schedule 3").json()["blocks"])
    assert schedule.index(BOB) < schedule.index(CAROL)

    assert "is on call from 2026-12-02 14:00 UTC to 2026-12-03 14:00 UTC" in ask(
        stack, f"override <@{CAROL}> 1d"
    )
    assert f"<@{CAROL}>" in who_now(stack)

    request = stack.oncall(f"swap <@{CAROL}>", user=BOB).json()
    assert request["response_type"] == "in_channel"
    accept = next(
        e
        for b in request["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Accept"
    )
    message = Message("C0CMD", "1.000001", "U0OPSBOT", request["text"])
    stack.press(accept, message, user=ALICE)  # not Alice's swap to answer
    refused = stack.slack.wait_for_responses(1)[-1]
    assert "Only <@U0CAROL01> can answer this swap" in refused["text"]
    stack.press(accept, message, user=CAROL)
    wait_until(lambda: "was accepted" in stack.slack.responses[-1].get("text", ""))

    stack.restart()
    stack.clock.advance(days=6)  # into what was Bob's week: Carol has it now
    assert f"*On call now:* <@{CAROL}>" in who_now(stack)
    stack.clock.advance(days=7)  # into what was Carol's week: Bob has it now
    assert f"*On call now:* <@{BOB}>" in who_now(stack)
    actions = [row.action for row in stack.deps.store.oncall.audit()]
    assert {"set", "override", "swap-request", "swap-accepted"} <= set(actions)


def test_handover_is_announced_once_and_syncs_the_group(stack: Stack) -> None:
    """The first run records who is on call (and syncs the group) without a post; the turn
    of the week posts one handover; restarts, and a clock set back 42 minutes across the
    turn, post nothing more."""
    ask(stack, f"set <@{ALICE}> <@{BOB}>")
    assert "first run: recorded, not announced" in stack.run("oncall-handover")
    assert "No change" in stack.run("oncall-handover", minutes=1)
    stack.restart()
    assert "No change" in stack.run("oncall-handover", minutes=1)
    stack.clock.now = datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)  # Monday 09:00: Bob's week
    assert "Handed over to U0BOB0001" in stack.run("oncall-handover")
    stack.restart()
    stack.clock.now -= timedelta(minutes=42)  # the clock was set back, over the turn
    assert "began before the last handover" in stack.run("oncall-handover")
    stack.clock.now += timedelta(minutes=45)
    assert "No change" in stack.run("oncall-handover")
    posts = [m.text for m in stack.slack.history("#incidents") if "handover" in m.text]
    assert len(posts) == 1 and posts[0].startswith(f":handshake: *On-call handover:* <@{BOB}>")
    assert [c["users"] for c in stack.slack.methods("usergroups.users.update")] == [ALICE, BOB]


def test_unacked_p0_escalates_oncall_then_manager_across_a_restart(
    stack: Stack, pagerduty: FakePagerDuty
) -> None:
    """On call is paged at 15 min, the manager 15 min later (after a restart), each a
    timeline entry; PagerDuty gets one alert, resolved with the incident."""
    ask(stack, f"set <@{BOB}> <@{CAROL}>")
    stack.command("open P0 Checkout down", user=ALICE)
    wait_until(lambda: stack.slack.history("#incidents"))

    assert "paged on call" in stack.tick(minutes=15)
    assert stack.slack.history(BOB)[0].text.startswith(":rotating_light: *Page:*")  # the DM
    pages = [e.text for e in stack.deps.store.incidents.timeline(1) if e.kind == "page"]
    assert pages == [f"Paged <@{BOB}> (on call) by mention and DM", "PagerDuty trigger delivered"]
    assert [e["event_action"] for e in pagerduty.events] == ["trigger"]
    assert pagerduty.events[0]["routing_key"] == "pd-routing-key"

    stack.restart()  # the escalation timer was armed before the restart
    assert "escalated to the escalation contact" in stack.tick(minutes=15)
    assert stack.slack.history(BOSS)[0].text.startswith(":rotating_light: *Page:*")
    pages = [e.text for e in stack.deps.store.incidents.timeline(1) if e.kind == "page"]
    assert pages[-1] == f"Paged <@{BOSS}> (escalation) by mention and DM"

    stack.command("resolve Rolled back")
    wait_until(lambda: len(pagerduty.events) == 2)
    assert pagerduty.events[1]["event_action"] == "resolve"
    assert pagerduty.events[1]["dedup_key"] == pagerduty.events[0]["dedup_key"]


def test_ack_stops_the_chain(stack: Stack) -> None:
    """Acknowledging after the first page means the manager is never paged."""
    ask(stack, f"set <@{BOB}>")
    stack.command("open P0 Checkout down")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.tick(minutes=16)
    stack.command("ack", user=BOB)
    wait_until(lambda: "(acknowledged)" in stack.card().text)
    stack.tick(minutes=30)
    assert stack.slack.history(BOSS) == []


def test_who_is_on_call_post(stack: Stack) -> None:
    """The scheduled post names who is on call and until when, in the digest channel."""
    ask(stack, f"set <@{CAROL}> <@{BOB}>")
    assert "Posted who is on call to #incidents" in stack.run("oncall-post")
    [post] = [m for m in stack.slack.history("#incidents") if "On call now" in m.text]
    assert f"<@{CAROL}>" in post.text and "*You*" not in post.text


def test_a_swap_trades_whole_shifts_and_an_override_says_what_it_replaces(stack: Stack) -> None:
    """Mid-shift, Alice's swap with Bob trades her next whole week for Bob's, never the 3.5
    days she has left; the request names both periods. A second override over the first says
    it replaces it."""
    ask(stack, f"set <@{ALICE}> <@{BOB}>")  # Wednesday: Alice's week runs to Mon 7 Dec 09:00
    request = ask(stack, f"swap <@{BOB}>")
    assert "swap two whole shifts" in request
    assert (
        f"<@{BOB}> takes 2026-12-14 09:00 UTC → 2026-12-21 09:00 UTC (7 d)" in request
    )  # Alice's next whole week, not the rest of this one
    assert f"<@{ALICE}> takes 2026-12-07 09:00 UTC → 2026-12-14 09:00 UTC (7 d)" in request
    begun = ask(stack, f"swap <@{BOB}> 2026-12-03")
    assert "has already begun" in begun and "`/oncall override" in begun

    first = ask(stack, f"override <@{CAROL}> 2d")
    assert "replaces" not in first
    second = ask(stack, f"override <@{BOB}> 1d")
    assert (
        f"It replaces <@{CAROL}>'s override of 2026-12-02 14:00 UTC → 2026-12-04 14:00 UTC"
        in second
    )
