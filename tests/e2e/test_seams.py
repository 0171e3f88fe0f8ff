"""Faults at the seams that once lost or held up work, each through the serve stack with
signed requests: a busy database under an event, a Slack outage longer than the inbox's old
tries, a message Slack refuses for good, an update of a deleted message, pages behind a
backlog, and two opsbots posting in one channel."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import outbox, posting
from bot.store import Store
from bot.tools.localslack import LocalSlack, Message, reaction_event, signed_headers
from tests.conftest import Clock
from tests.e2e.stack import ALICE, SECRET, Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP

BOB, BOSS = "U0BOB0001", "U0BOSS001"
FAST = {"backoff_cap_seconds": 0.1, "slack_posts_per_second": 50, "slack_burst": 50}


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        yield workspace


def make(tmp_path: Path, slack: LocalSlack, **config: Any) -> Stack:
    config["outbox"] = {**FAST, **config.get("outbox", {})}
    return Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)), **config)


def cards(slack: LocalSlack) -> list[Message]:
    return [m for m in slack.history("#incidents") if not m.thread_ts]


def send_event(stack: Stack, body: str) -> httpx.Response:
    headers = {**signed_headers(body, SECRET), "Content-Type": "application/json"}
    return HTTP.post(stack.url, content=body.encode(), headers=headers, timeout=10)


def pinned(stack: Stack, number: int = 1) -> list[str]:
    return [e.text for e in stack.deps.store.incidents.timeline(number) if e.kind == "pin"]


def open_incident(stack: Stack, text: str = "open P1 Login broken") -> Message:
    assert stack.command(text).status_code == 200
    stack.settle()
    return cards(stack.slack)[-1]


def test_an_event_the_database_cannot_take_in_time_is_refused_so_slack_sends_it_again(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Another process holds the write lock past the write budget: the :pushpin: event is
    answered 503 (never a 200 Slack would not repeat, never a command's answer), and Slack's
    retry of it is stored and pinned."""
    stack = make(tmp_path, slack)
    try:
        card = open_incident(stack)
        said = slack.post(card.channel, BOB, "Rolled back the auth deploy", thread_ts=card.ts)
        slack.react(said, ALICE, "pushpin")
        body = reaction_event(said, user=ALICE, name="pushpin", added=True)
        holder = sqlite3.connect(tmp_path / "opsbot.db", check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        timer = threading.Timer(3.0, holder.rollback)
        timer.start()
        refused = send_event(stack, body)
        timer.join()
        assert (refused.status_code, refused.text) == (503, "")
        assert stack.deps.store.inbox.inbox_pending() == 0
        assert send_event(stack, body).status_code == 200  # Slack's retry, same event_id
        wait_until(lambda: pinned(stack) == ["Rolled back the auth deploy"])
    finally:
        stack.stop()


def test_a_pin_made_during_a_long_slack_outage_lands_when_slack_is_back(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Slack answers `service_unavailable` to everything for longer than the five tries the
    inbox used to give an event, and the bot restarts during the outage: the event is
    neither given up on nor marked done, and it is pinned once Slack answers again."""
    stack = make(tmp_path, slack)
    try:
        card = open_incident(stack)
        said = slack.post(card.channel, BOB, "Disabled the new login flow", thread_ts=card.ts)
        slack.react(said, ALICE, "pushpin")
        slack.fault(error="service_unavailable")
        body = reaction_event(said, user=ALICE, name="pushpin", added=True)
        assert send_event(stack, body).status_code == 200

        def tries() -> int:
            return sum(e.attempts for e in stack.deps.store.inbox.inbox_events(("pending", "dead")))

        wait_until(lambda: tries() >= 3)
        stack.restart()  # during the outage: authorizing the event asks nothing of Slack
        wait_until(lambda: tries() >= 7)
        assert stack.deps.store.inbox.inbox_summary(datetime.now(UTC))["dead"] == 0
        assert stack.deps.store.inbox.inbox_pending() == 1
        slack.clear_faults()
        wait_until(lambda: pinned(stack) == ["Disabled the new login flow"])
        # The row is marked done just after the pin commits, not in the same breath.
        wait_until(lambda: stack.deps.store.inbox.inbox_pending() == 0)
    finally:
        stack.stop()


def test_a_card_slack_refuses_is_posted_as_plain_text_and_holds_up_no_one(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Slack refuses the card's blocks for good (`invalid_blocks`): the card goes out at once
    as plain text saying so, its updates too; the next incident's card is not held up, and
    nothing is left dead or queued again."""
    slack.fault(method="chat.postMessage", error="invalid_blocks", with_blocks=True, times=1)
    slack.fault(method="chat.update", error="invalid_blocks", with_blocks=True, times=1)
    stack = make(tmp_path, slack)
    try:
        first = open_incident(stack, "open P1 Login broken")
        assert first.blocks == [] and "INC-1" in first.text
        assert "Posted as plain text: Slack refused its layout (invalid_blocks)" in first.text
        assert stack.deps.store.incidents.incident(1).card_ts == first.ts
        stack.command("ack INC-1")
        stack.settle()
        assert "Posted as plain text" in slack.find(first.channel, first.ts).text
        second = open_incident(stack, "open P0 Checkout down")
        assert second.blocks and "INC-2" in second.text  # Slack takes this one's layout
        stack.run("card-sync")
        assert len(cards(slack)) == 2
        assert stack.deps.store.outbox.outbox_summary(datetime.now(UTC))["dead"] == 0
    finally:
        stack.stop()


def test_a_card_refused_for_good_ends_at_once_and_is_not_queued_again(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """The incidents channel was archived: the card row is refused at its first answer (not
    retried for an hour), counted on /healthz, and card-sync does not queue it again."""
    slack.archive("#incidents")
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        [refused] = stack.deps.store.outbox.effects(("refused",))
        assert (refused.kind, refused.attempts, refused.last_error) == (
            "incident.card",
            1,
            "Slack is_archived",
        )
        stack.run("card-sync")
        assert stack.deps.store.outbox.effects(("pending",)) == []
        health = HTTP.get(stack.url.replace("/slack/events", "/healthz")).json()
        assert health["outbox"]["dead"] == 1
    finally:
        stack.stop()


def test_an_update_of_a_deleted_message_is_dropped_and_holds_up_nothing(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Someone deleted a message the bot keeps up to date: its update is dropped at the first
    `message_not_found` and the next post in that channel goes out at once."""
    stack = make(tmp_path, slack)
    try:
        posted = stack.deps.post_now("#digest", outbox_reply("Daily check"))
        slack.delete(slack.find(posted["channel"], posted["ts"]))  # type: ignore[arg-type]
        with stack.deps.store.atomic():
            posting.enqueue_update(stack.deps, "#digest", posted["ts"], {"text": "Reviewed"})
            posting.enqueue_post(stack.deps, "#digest", {"text": "Next digest"})
        stack.settle()
        [dropped] = stack.deps.store.outbox.effects(("dropped",))
        assert dropped.kind == "slack.update" and "message_not_found" in str(dropped.last_error)
        assert [m.text for m in slack.history("#digest")] == ["Next digest"]
    finally:
        stack.stop()


def outbox_reply(text: str) -> Any:
    from bot.replies import Reply

    return Reply(text)


def test_a_page_goes_out_first_whatever_waits_ahead_in_its_channel(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Twelve cards wait for Slack's pace in #incidents when a P0 breaches: its page in the
    thread goes out before the cards queued ahead of it, within the channel's pace."""
    config = {
        "oncall": {"rotation": [BOB], "escalation": BOSS},
        "severities": {"P0": {"response_minutes": 1}},
        "outbox": {"slack_posts_per_second": 4, "slack_burst": 1},
    }
    stack = make(tmp_path, slack, **config)
    try:
        open_incident(stack, "open P0 Checkout down")
        stack.deps.outbox.stop()  # hold delivery while the backlog builds up
        for n in range(12):
            stack.command(f"open P2 Noise {n}")
        stack.clock.advance(minutes=2)
        from jobs import run_job

        run_job("incident-timers", stack.deps, now=stack.clock())  # the P0 breaches: page
        stack.deps.outbox.start()
        page = wait_until(
            lambda: [m for m in slack.history("#incidents") if "<@U0BOB0001>" in m.text]
        )
        assert len(cards(slack)) <= 2  # the P0's own, and one noise card at most
        assert page[0].thread_ts == cards(slack)[0].ts
    finally:
        stack.stop()


def test_a_page_held_up_past_its_fallback_time_falls_back_wherever_it_waits(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """The page's incident lane is held by its card, which Slack keeps failing (503): the
    page is not left waiting behind it; once `page_fallback_minutes` have passed since it was
    owed it is posted at the top of the channel, mentioning the person and the escalation."""
    config = {
        "oncall": {"rotation": [BOB], "escalation": BOSS},
        "severities": {"P0": {"response_minutes": 1}},
        "outbox": {"page_fallback_minutes": 0.02},
    }
    stack = make(tmp_path, slack, **config)
    try:
        slack.fault(method="chat.postMessage", status=503, with_blocks=True)  # cards fail
        slack.fault(method="chat.postMessage", status=503, channel=BOB)  # the DM fails too
        stack.command("open P0 Checkout down")
        stack.clock.advance(minutes=2)
        from jobs import run_job

        run_job("incident-timers", stack.deps, now=stack.clock())
        top = wait_until(
            lambda: [m for m in slack.history("#incidents") if "failed" in m.text and not m.blocks]
        )
        assert "<@U0BOB0001>" in top[0].text and "<@U0BOSS001>" in top[0].text
        assert not top[0].thread_ts
    finally:
        stack.stop()


def test_two_opsbots_in_one_channel_never_take_each_others_posts(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Two opsbots (two databases) post in one channel; one restarts with its row #1 in
    doubt: it looks for its own post and does not adopt the other's message with the same
    row number."""
    other = Store(tmp_path / "other.db")
    other.migrate()
    stack = make(tmp_path, slack)
    try:
        stamp = {"row": 1, "opsbot": other.instance()}  # the other opsbot's row #1
        slack.post(
            "#digest", "U0OPSBOT", "theirs", metadata={"event_type": "x", "event_payload": stamp}
        )
        with stack.deps.store.atomic():
            row = posting.enqueue_post(stack.deps, "#digest", {"text": "ours"})
        assert row == 1
        # An earlier try of row #1 was cut short: this try is its second, and looks first.
        stack.deps.store.outbox.claim(1, "gone:1:x", datetime.now(UTC), outbox.LEASE)
        stack.deps.store.outbox.release_owner("gone:1:x")
        stack.settle()
        assert [m.text for m in slack.history("#digest")] == ["theirs", "ours"]
    finally:
        stack.stop()


def test_a_post_made_before_a_crash_is_found_in_a_busy_channel(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """An earlier try of a row posted it, and 450 messages went into the channel since: the
    next try pages through the history, finds its post and adopts it (not a second one)."""
    stack = make(tmp_path, slack)
    try:
        with stack.deps.store.atomic():
            row = posting.enqueue_post(stack.deps, "#busy", {"text": "ours"})
        assert row is not None
        first = stack.deps.store.outbox.claim(row, "gone:1:x", datetime.now(UTC), outbox.LEASE)
        assert first is not None
        tag = posting.metadata(stack.deps, first)
        slack.post("#busy", "U0OPSBOT", "ours", metadata=tag)  # the try reached Slack ...
        for n in range(450):  # ... and the channel went on
            slack.post("#busy", BOB, f"chatter {n}")
        stack.deps.store.outbox.release_owner("gone:1:x")  # ... then its process died
        stack.settle()
        assert [m.text for m in slack.history("#busy")].count("ours") == 1
        assert stack.deps.store.outbox.effect(row).state == "done"  # type: ignore[union-attr]
    finally:
        stack.stop()


def test_a_post_made_before_a_crash_is_found_however_busy_the_channel_was_since(
    tmp_path: Path, slack: LocalSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A try posted the row five minutes ago and its process died; Slack outages held the
    row since, and 1,500 messages went into the channel: the next try looks among the
    messages of that try's own seconds, finds its post and adopts it. (Looking back from
    now through a few pages, it posted a second card in a soak.)"""
    stack = make(tmp_path, slack)
    try:
        stack.deps.outbox.stop()  # the row is tried here, by settle()
        with stack.deps.store.atomic():
            row = posting.enqueue_post(stack.deps, "#busy", {"text": "ours"})
        assert row is not None
        then = datetime.now(UTC) - timedelta(minutes=5)
        first = stack.deps.store.outbox.claim(
            row, "gone:1:x", then, outbox.LEASE, outbox.LEASE, due_only=False
        )
        assert first is not None
        landed = f"{then.timestamp() + 2:.6f}"  # Slack took it two seconds after the claim
        with monkeypatch.context() as patch:
            patch.setattr(slack, "_next_ts", lambda: landed)
            slack.post("#busy", "U0OPSBOT", "ours", metadata=posting.metadata(stack.deps, first))
        for n in range(1_500):
            slack.post("#busy", BOB, f"chatter {n}")
        stack.settle()
        assert [m.text for m in slack.history("#busy")].count("ours") == 1
        assert stack.deps.store.outbox.effect(row).state == "done"  # type: ignore[union-attr]
    finally:
        stack.stop()


def test_a_try_slack_said_no_to_is_not_looked_for(tmp_path: Path, slack: LocalSlack) -> None:
    """A 429 means Slack posted nothing: the next try posts without looking through the
    channel; a 503 may follow a post, and the next try looks first."""
    stack = make(tmp_path, slack)
    try:
        for status, looked in ((429, 0), (503, 1)):
            calls = len(slack.calls)
            fault = {"retry_after": 0.1} if status == 429 else {"status": status}
            slack.fault(method="chat.postMessage", times=1, **fault)
            with stack.deps.store.atomic():
                posting.enqueue_post(stack.deps, "#digest", {"text": f"after a {status}"})
            said = f"after a {status}"
            wait_until(lambda said=said: said in [m.text for m in slack.history("#digest")])
            methods = [c.method for c in slack.calls[calls:]]
            assert methods.count("conversations.history") == looked, methods
            assert [m.text for m in slack.history("#digest")].count(f"after a {status}") == 1
    finally:
        stack.stop()


def test_a_pin_in_the_thread_of_a_card_not_yet_recorded_is_kept(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """The card reached Slack but its process died before recording it (the next try would
    adopt it): a :pushpin: in its thread meanwhile still lands on the incident's timeline,
    found by the card's own metadata."""
    stack = make(tmp_path, slack)
    try:
        stack.deps.outbox.stop()  # the card is not delivered by this process
        stack.command("open P1 Login broken")
        [row] = stack.deps.store.outbox.effects(("pending",))
        tag = posting.metadata(stack.deps, row)
        card = slack.post("#incidents", "U0OPSBOT", "INC-1 P1 High: Login broken", metadata=tag)
        assert stack.deps.store.incidents.incident(1).card_ts is None  # type: ignore[union-attr]
        said = slack.post(card.channel, BOB, "Auth pods restarted", thread_ts=card.ts)
        slack.react(said, ALICE, "pushpin")
        body = reaction_event(said, user=ALICE, name="pushpin", added=True)
        assert send_event(stack, body).status_code == 200
        stack.inbox.drain()
        assert pinned(stack) == ["Auth pods restarted"]
    finally:
        stack.stop()
