"""Effects when Slack or a third party fails: through the serve stack, with faults switched on
in the local Slack and in loopback stand-ins for PagerDuty, Statuspage and a notice webhook.

Each test here is a defect that was found: a page lost with its card, a PagerDuty trigger
never retried, a Statuspage 429 holding up every card, a 429 in one channel holding up
another, a full pool starving /rollback, a write past Slack's 3 seconds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.tools.localslack import LocalSlack, signed_headers, slash_command
from tests.conftest import Clock
from tests.e2e.fakes import ThirdParty
from tests.e2e.stack import ALICE, FORM, SECRET, Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP

BOB, BOSS = "U0BOB0001", "U0BOSS001"
FAST = {"backoff_cap_seconds": 0.2, "slack_posts_per_second": 50, "slack_burst": 50}


@pytest.fixture
def third() -> Iterator[ThirdParty]:
    fake = ThirdParty()
    yield fake
    fake.close()


def make(tmp_path: Path, slack: LocalSlack, **config: Any) -> Stack:
    config.setdefault("outbox", FAST)
    return Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)), **config)


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        yield workspace


def cards(slack: LocalSlack) -> list[Any]:
    return [m for m in slack.history("#incidents") if not m.thread_ts]


def open_and_wait(stack: Stack, text: str = "open P0 Checkout down") -> None:
    stack.command(text)
    wait_until(
        lambda: (
            stack.deps.store.incidents.incident(1)
            and stack.deps.store.incidents.incident(1).card_ts
        )
    )


def oncall_config(third: ThirdParty, **outbox: Any) -> dict[str, Any]:
    return {
        "oncall": {
            "rotation": [BOB],
            "escalation": BOSS,
            "pagerduty_routing_key": "pd-key",
            "pagerduty_url": third.url,
        },
        "severities": {"P0": {"response_minutes": 1}},
        "outbox": {**FAST, **outbox},
    }


def test_breach_pages_even_when_the_card_was_deleted(
    tmp_path: Path, slack: LocalSlack, third: ThirdParty
) -> None:
    """The card is gone (chat.update says message_not_found): the breach still pages by
    thread mention, DM and PagerDuty, and the card is posted again for the incident."""
    stack = make(tmp_path, slack, **oncall_config(third))
    try:
        open_and_wait(stack)
        old = cards(slack)[0]
        slack.delete(old)
        assert "paged on call" in stack.tick(minutes=1)
        [card] = cards(slack)
        assert card.ts != old.ts and stack.deps.store.incidents.incident(1).card_ts == card.ts
        assert "target missed" in str(card.blocks)
        pages = [m.text for m in slack.history("#incidents") if m.thread_ts == card.ts]
        assert any(t.startswith(f"<@{BOB}> :rotating_light: *Page:*") for t in pages)
        assert slack.history(BOB)[0].text.startswith(":rotating_light: *Page:*")  # the DM
        assert [c["body"]["event_action"] for c in third.calls] == ["trigger"]
        timeline = [e.text for e in stack.deps.store.incidents.timeline(1)]
        assert any("Card posted again" in t and "message_not_found" in t for t in timeline)
    finally:
        stack.stop()


def test_a_failing_pagerduty_trigger_is_retried_and_each_try_is_on_the_timeline(
    tmp_path: Path, slack: LocalSlack, third: ThirdParty
) -> None:
    """PagerDuty answers 503 twice, then takes the event: three tries, two failures and the
    delivery on the timeline, and nothing else waits for it."""
    third.faults = [503, 503]
    stack = make(tmp_path, slack, **oncall_config(third))
    try:
        open_and_wait(stack)
        stack.tick(minutes=1)
        wait_until(lambda: len(third.calls) == 3, timeout=10)
        wait_until(lambda: not stack.deps.store.outbox.outbox_summary(datetime.now(UTC))["pending"])
        pd = [e.text for e in stack.deps.store.incidents.timeline(1) if "PagerDuty" in e.text]
        assert pd[:2] == [
            "PagerDuty trigger failed (HTTP 503), attempt 1; retrying",
            "PagerDuty trigger failed (HTTP 503), attempt 2; retrying",
        ]
        assert pd[2] == "PagerDuty trigger delivered after 3 attempts"
    finally:
        stack.stop()


def test_a_dead_pagerduty_event_is_told_to_the_commander(
    tmp_path: Path, slack: LocalSlack, third: ThirdParty
) -> None:
    """PagerDuty never answers well: past the give-up time the row is dead, /healthz counts
    it, the commander is told in the thread, and `retry` puts it back in line."""
    third.always = 500
    stack = make(tmp_path, slack, **oncall_config(third, give_up_minutes=0.01))
    try:
        open_and_wait(stack)
        stack.tick(minutes=1)
        wait_until(lambda: stack.deps.store.outbox.outbox_summary(datetime.now(UTC))["dead"], 10)
        told = wait_until(
            lambda: [t for t in stack.thread() if "could not be delivered" in t], timeout=5
        )
        assert told[0].startswith(f":warning: <@{ALICE}> The PagerDuty event for INC-1")
        health = HTTP.get(stack.url.replace("/slack/events", "/healthz"), timeout=5).json()
        assert health["outbox"]["dead"] == 1
        [dead] = stack.deps.store.outbox.effects(("dead",))
        third.always = None
        assert stack.deps.store.outbox.retry_effect(dead.id, datetime.now(UTC))
        wait_until(lambda: stack.deps.store.outbox.effect(dead.id).state == "done", timeout=10)
    finally:
        stack.stop()


def test_statuspage_rate_limiting_delays_no_card(
    tmp_path: Path, slack: LocalSlack, third: ThirdParty
) -> None:
    """Statuspage answers 429 with Retry-After 20: its own lane waits, and the card of a P0
    opened right after still appears at once."""
    page = {
        "statuspage_api_key": "sp-key",
        "statuspage_page_id": "page1",
        "statuspage_url": f"{third.url}/v1",
    }
    third.faults = [("429", 20)]
    stack = make(tmp_path, slack, status_page=page)
    try:
        open_and_wait(stack, "open P1 Login slow")
        stack.command("public INC-1 Logins are slow; we are on it.")
        wait_until(lambda: third.calls)
        stack.command("open P0 Checkout down")
        wait_until(lambda: stack.deps.store.incidents.incident(2).card_ts, timeout=2)
        every = ("pending", "done", "dead", "fell_back", "dropped")
        [waiting] = wait_until(
            lambda: [
                e
                for e in stack.deps.store.outbox.effects(every)
                if e.kind == "statuspage" and e.last_error
            ]
        )
        assert waiting.state == "pending" and waiting.last_error == "HTTP 429", waiting
        assert (waiting.due_at - datetime.now(UTC)).total_seconds() > 15  # Retry-After kept
    finally:
        stack.stop()


def test_a_slack_429_in_one_channel_delays_no_page_in_another(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Slack rate-limits the digest channel (Retry-After 30): posts there wait, the incident's
    card in #incidents does not."""
    stack = make(tmp_path, slack, digest_channel="#ops-digest")
    try:
        limited = slack.fault(method="chat.postMessage", channel="#ops-digest", retry_after=30)
        from bot.posting import enqueue_post

        with stack.deps.store.atomic():
            enqueue_post(stack.deps, "#ops-digest", {"text": "Daily check"})
        wait_until(lambda: limited.hits)
        open_and_wait(stack)
        assert cards(slack) and slack.history("#ops-digest") == []
        [waiting] = stack.deps.store.outbox.effects(("pending",))
        assert waiting.lane == "slack:#ops-digest" and "ratelimited" in str(waiting.last_error)
    finally:
        stack.stop()


def test_slack_5xx_and_timeouts_are_retried_in_commit_order(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Slack answers 503, then hangs past the client's timeout, then works: the card and every
    thread line arrive once each, card first, lines in the order they were committed."""
    stack = make(tmp_path, slack, outbox={**FAST, "timeout_seconds": 1})
    try:
        slack.fault(method="chat.postMessage", status=503, times=1)
        slack.fault(method="chat.postMessage", delay=1.5, times=1)
        stack.command("open P1 Login broken")
        for n in range(3):
            stack.command(f"update INC-1 step {n}")
        wait_until(lambda: len(stack.thread()) >= 3, timeout=15)
        stack.deps.outbox.drain()
        [card] = cards(slack)
        lines = [t for t in stack.thread() if "step" in t]
        assert [line.split("· ")[1] for line in lines] == ["step 0", "step 1", "step 2"]
        assert stack.deps.store.incidents.incident(1).card_ts == card.ts
    finally:
        stack.stop()


def test_a_page_slack_keeps_refusing_falls_back_to_a_channel_post(
    tmp_path: Path, slack: LocalSlack, third: ThirdParty
) -> None:
    """The DM to the person on call keeps failing: after the fallback time the page is a
    top-level post in #incidents mentioning them and the escalation contact."""
    stack = make(tmp_path, slack, **oncall_config(third, page_fallback_minutes=0.005))
    try:
        slack.fault(method="chat.postMessage", channel=BOB, status=500)
        open_and_wait(stack)
        stack.tick(minutes=1)
        fallback = wait_until(
            lambda: [m for m in cards(slack) if m.text.startswith(":rotating_light:")], 10
        )
        assert f"<@{BOB}> <@{BOSS}>" in fallback[0].text and "DM failed" in fallback[0].text
        assert any("Page by dm failed" in e.text for e in stack.deps.store.incidents.timeline(1))
    finally:
        stack.stop()


def test_hanging_mongodb_and_many_health_checks_starve_nothing(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """MongoDB hangs; 60 /health at once share one probe run and all get an answer, and a
    /backup verify meanwhile is answered at once (its own pool)."""
    runs: list[float] = []

    def hanging() -> Any:
        runs.append(time.monotonic())
        time.sleep(1.5)
        raise TimeoutError("server selection")

    stack = Stack(
        slack,
        tmp_path / "opsbot.db",
        Clock(datetime.now(UTC)),
        mongo=hanging,
        health={"timeout_seconds": 1},
        outbox=FAST,
    )
    try:
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda _: stack.command("", name="/health"), range(60)))
        assert all(a.status_code == 200 for a in answers)
        started = time.monotonic()
        verify = stack.command("verify", name="/backup")
        assert verify.status_code == 200 and time.monotonic() - started < 1
        wait_until(lambda: len(slack.responses) >= 61, timeout=10)
        assert len(runs) <= 2  # one run shared (a second only if one ended mid-burst)
    finally:
        stack.stop()


def test_a_full_backup_queue_says_busy_at_once(tmp_path: Path, slack: LocalSlack) -> None:
    """With the backup pool's one thread and queue taken, the next /backup verify is told
    "busy" in its answer instead of waiting."""
    stack = make(tmp_path, slack, pools={"backup_threads": 1, "backup_queue": 0})
    try:
        release = threading.Event()
        stack.deps.pools.backups.submit(release.wait)
        answer = stack.command("verify", name="/backup")
        assert "busy: 1 backups or verifies already running" in answer.text
        release.set()
    finally:
        stack.stop()


def test_a_write_that_cannot_get_the_file_in_time_says_busy_and_changes_nothing(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Another process holds the database for 3.5 s: /incident open answers "busy" inside
    Slack's 3 seconds (never a timeout with the change made behind it) and commits nothing."""
    stack = make(tmp_path, slack)
    try:
        holder = sqlite3.connect(tmp_path / "opsbot.db", check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        timer = threading.Timer(3.5, holder.rollback)
        timer.start()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: stack.command(f"open P1 Down {n}"), range(8)))
        timer.join()
        assert all(a.status_code == 200 for a in answers)
        assert all("busy; nothing was changed" in a.text for a in answers)
        assert stack.deps.store.incidents.find(open_only=False) == []
    finally:
        stack.stop()


def test_a_replayed_command_has_no_second_effect(tmp_path: Path, slack: LocalSlack) -> None:
    """The same signed request twice (same trigger_id): one incident, and the replay is told
    it was already handled."""
    stack = make(tmp_path, slack)
    try:
        body = slash_command(
            "/incident",
            "open P1 Login broken",
            user=ALICE,
            user_name="alice",
            channel="C0CMD",
            response_url=slack.response_url(),
        )
        headers = {**signed_headers(body, SECRET), "Content-Type": FORM}
        first = HTTP.post(stack.url, content=body.encode(), headers=headers, timeout=10)
        again = HTTP.post(stack.url, content=body.encode(), headers=headers, timeout=10)
        assert "INC-1 opened" in first.text and "already handled" in again.text
        assert len(stack.deps.store.incidents.find(open_only=False)) == 1
    finally:
        stack.stop()


def test_a_row_delivered_but_not_marked_is_adopted_not_repeated(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """The process died after Slack took each post but before the row was marked done: the
    row is tried again and finds its message (metadata) or its file (name in the thread)
    instead of posting a second card, line or post-mortem."""
    stack = make(tmp_path, slack)
    try:
        open_and_wait(stack)
        stack.command("resolve INC-1 Reverted")
        stack.settle()
        before = [(m.ts, m.text) for m in slack.history("#incidents")]
        with sqlite3.connect(tmp_path / "opsbot.db") as db:  # as if never marked done
            db.execute("UPDATE outbox SET state = 'pending', owner = NULL, lease_until = NULL")
        stack.settle()
        assert [(m.ts, m.text) for m in slack.history("#incidents")] == before
        assert len(cards(slack)) == 1
        assert len([f for m in slack.history("#incidents") for f in m.files]) == 1
    finally:
        stack.stop()
