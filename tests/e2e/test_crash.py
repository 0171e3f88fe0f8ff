"""kill -9 of a real `opsbot serve` at the worst moments: after the answer, while Slack is
slow or down, with an event stored but not processed. After a restart every acknowledged
change is in SQLite and every owed effect reaches Slack exactly once (one card per incident).

Seeded: a failure names its seed. CRASH_RUNS=20 runs the random test 20 rounds.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import Store
from bot.tools.localslack import LocalSlack, Message, reaction_event, slash_command
from tests.e2e.conftest import Server
from tests.e2e.test_serve import wait_until

FORM = "application/x-www-form-urlencoded"
ALICE, BOB = "U0ALICE01", "U0BOB0001"
ROUNDS = int(os.environ.get("CRASH_RUNS", "4"))


def serve(workspace: LocalSlack, tmp_path: Path, db: Path | None = None) -> Server:
    """`opsbot serve` whose Slack calls time out after 2 s: a kill's in-flight window (how long
    a restart waits before looking for a post the dead process had on its way) is then 4 s,
    not 12; the local Slack answers in milliseconds."""
    config = tmp_path / "crash.toml"
    config.write_text("[outbox]\ntimeout_seconds = 2\n")
    env = {"OPSBOT_CONFIG": str(config)}
    log = tmp_path / "serve.log"
    return Server(workspace, db or tmp_path / "opsbot.db", log, env=env).start()


def command(server: Server, text: str) -> str:
    body = slash_command(
        "/incident",
        text,
        user=ALICE,
        user_name="alice",
        channel="C0CMD",
        response_url=server.workspace.response_url(),
    )
    answer = server.post(body, FORM)
    assert answer.status_code == 200, answer.text
    return answer.text


def top_level(workspace: LocalSlack, number: int) -> list[Message]:
    """The incident's cards: top-level posts tagged with its number."""
    return [
        m
        for m in workspace.history("#incidents")
        if not m.thread_ts and (m.metadata or {}).get("event_payload", {}).get("incident") == number
    ]


def settled(db: Path) -> bool:
    store = Store(db)
    return (
        store.outbox.outbox_summary(store_now())["pending"] == 0
        and store.inbox.inbox_pending() == 0
    )


def store_now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("latency", [0.0, 0.03])
def test_kill_right_after_open_never_doubles_or_loses_a_card(
    workspace: LocalSlack, tmp_path: Path, latency: float
) -> None:
    """Open, answer, kill -9 0-50 ms later (while the card is on its way), restart: each
    incident is in SQLite and has exactly one card, and the incident points at it."""
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    workspace.latency = latency
    server = serve(workspace, tmp_path)
    try:
        for number in range(1, ROUNDS + 1):
            assert f"INC-{number} opened" in command(server, f"open P1 Crash round {number}")
            time.sleep(rng.uniform(0, 0.05))
            server.kill()
            server.start()
        wait_until(lambda: settled(server.db), timeout=20)
        store = Store(server.db)
        for number in range(1, ROUNDS + 1):
            found = top_level(workspace, number)
            assert len(found) == 1, f"seed {seed}: INC-{number} has {len(found)} cards"
            assert store.incidents.incident(number).card_ts == found[0].ts, f"seed {seed}"
    finally:
        server.stop()


def test_effects_owed_while_slack_is_down_survive_a_kill(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """Slack answers 503 to every post; the incident is opened and updated twice (all
    acknowledged), then the process is killed. After the restart, with Slack back, the card
    and both thread lines arrive, once each and in order."""
    down = workspace.fault(method="chat.postMessage", status=503)
    server = serve(workspace, tmp_path)
    try:
        command(server, "open P1 Login broken")
        command(server, "update INC-1 first finding")
        command(server, "update INC-1 second finding")
        wait_until(lambda: down.hits >= 1)
        server.kill()
        assert Store(server.db).outbox.outbox_summary(store_now())["pending"] >= 3
        workspace.clear_faults()
        server.start()
        wait_until(lambda: settled(server.db), timeout=20)
        [card] = top_level(workspace, 1)
        lines = [m.text for m in workspace.history("#incidents") if m.thread_ts == card.ts]
        found = [line for line in lines if "finding" in line]
        assert len(found) == 2 and "first" in found[0] and "second" in found[1]
    finally:
        server.stop()


def test_an_event_stored_before_a_kill_is_processed_after_it(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """A :pushpin: arrives while Slack cannot be read (its processing fails); the process is
    killed. Slack got its 200 and will not send it again; after the restart the stored event
    is processed and the message is on the timeline."""
    server = serve(workspace, tmp_path)
    try:
        command(server, "open P1 Login broken")
        wait_until(lambda: Store(server.db).incidents.incident(1).card_ts)
        [card] = top_level(workspace, 1)
        said = workspace.post(card.channel, BOB, "Rolled back the auth deploy", thread_ts=card.ts)
        workspace.react(said, ALICE, "pushpin")
        unreadable = workspace.fault(method="reactions.get", status=503)
        body = reaction_event(said, user=ALICE, name="pushpin", added=True)
        assert server.post(body, "application/json").status_code == 200
        wait_until(lambda: unreadable.hits >= 1)
        server.kill()
        assert Store(server.db).inbox.inbox_pending() == 1
        workspace.clear_faults()
        server.start()
        wait_until(
            lambda: [e for e in Store(server.db).incidents.timeline(1) if e.kind == "pin"], 30
        )
        wait_until(
            lambda: Store(server.db).inbox.inbox_pending() == 0
        )  # done once it has confirmed
    finally:
        server.stop()


def test_ack_and_resolve_each_followed_by_a_kill_arrive_once(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """Open, acknowledge and resolve, each answer followed by kill -9 0-50 ms later (Slack
    answering in 30 ms): one card, each thread line once, one post-mortem file."""
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    workspace.latency = 0.03
    server = serve(workspace, tmp_path)
    try:
        for text in ("open P1 Login broken", "ack INC-1", "resolve INC-1 Reverted v1.4.2"):
            command(server, text)
            time.sleep(rng.uniform(0, 0.05))
            server.kill()
            server.start()
        wait_until(lambda: settled(server.db), timeout=20)
        [card] = top_level(workspace, 1)
        replies = [m for m in workspace.history("#incidents") if m.thread_ts == card.ts]
        texts = [m.text for m in replies if not m.files]
        assert len(texts) == len(set(texts)), f"seed {seed}: {texts}"
        files = [f["name"] for m in replies for f in m.files]
        assert files == ["INC-1-postmortem.md"], f"seed {seed}"
        assert Store(server.db).incidents.incident(1).status == "resolved"
    finally:
        server.stop()


def test_a_breach_pages_once_however_the_start_is_cut_short(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """A P0 passed its response target while the bot was down. The bot starts (its timers
    run at start) and is killed 0-300 ms later, then starts again: the breach is recorded
    once, the page is in the thread once and the DM went out."""
    from bot.config import Settings
    from bot.domain.incidents import service

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    db = tmp_path / "opsbot.db"
    store = Store(db)
    store.migrate()
    past = datetime.now(UTC) - timedelta(minutes=20)
    service.open_incident(
        store, Settings(opsbot_db=db), title="Checkout down", severity="P0", actor=ALICE, now=past
    )
    workspace.latency = 0.03
    server = serve(workspace, tmp_path, db)
    try:
        time.sleep(rng.uniform(0, 0.3))
        server.kill()
        server.start()
        wait_until(lambda: Store(db).incidents.incident(1).breached_at and settled(db), timeout=20)
        [card] = top_level(workspace, 1)
        replies = [m.text for m in workspace.history("#incidents") if m.thread_ts == card.ts]
        assert len([t for t in replies if "*Page:*" in t]) == 1, f"seed {seed}"
        assert workspace.history(ALICE), f"seed {seed}: no DM"
        assert len([e for e in Store(db).incidents.timeline(1) if e.kind == "breach"]) == 1
    finally:
        server.stop()
