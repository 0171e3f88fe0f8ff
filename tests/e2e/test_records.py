"""Honest incident records through the serve stack: work acknowledges, a target result keeps
the severity it was judged at, people are named."""

from __future__ import annotations

import time

import pytest

from bot.domain.incidents import card as cards
from bot.tools.localslack import Message
from tests.e2e.stack import ALICE, Stack
from tests.e2e.test_serve import wait_until

# The whole flow once per engine: SQLite and PostgreSQL.
pytestmark = pytest.mark.both_engines

BOB_ID = "U0BOB0001"
BOB = f"<@{BOB_ID}|bob>"


def card_of(stack: Stack, number: int) -> Message:
    return wait_until(
        lambda: next(
            (
                m
                for m in stack.slack.history("#incidents")
                if not m.thread_ts and m.text.startswith(f"INC-{number} ")
            ),
            None,
        )
    )


def button(message: Message, action_id: str) -> dict:  # type: ignore[type-arg]
    return next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


def test_any_work_on_an_incident_acknowledges_it_and_stops_the_page(stack: Stack) -> None:
    """An update, a public update, a status, a role, Take command or Take comms acknowledges
    an incident nobody had acknowledged, says so on the timeline, and no breach page follows;
    the incident nobody touched is paged."""
    work = [
        "update INC-1 Rolled back to v1.4.1",
        "public INC-2 We are looking into failed logins",
        "status INC-3 investigating",
        f"role INC-4 comms {BOB}",
        f"lead INC-5 {BOB}",
    ]
    for number in range(1, 9):
        stack.command(f"open P1 Login broken {number}")
    stack.clock.advance(minutes=10)
    for line in work:
        assert stack.command(line).status_code == 200
    bob = "U0BOB0001"
    stack.press(button(card_of(stack, 6), cards.TAKE_COMMAND), card_of(stack, 6), user=bob)
    stack.press(button(card_of(stack, 7), cards.TAKE_COMMS), card_of(stack, 7), user=bob)
    stack.settle()

    said = {
        1: "by a status update",
        2: "by a public update",
        3: "by a status change",
        4: "by naming the communications lead",
        5: "by naming the commander",
        6: "by taking command",
        7: "by taking comms",
    }
    for number, how in said.items():
        incident = stack.deps.store.incidents.incident(number)
        assert incident.acked_at == stack.clock(), number
        [ack] = [e for e in stack.deps.store.incidents.timeline(number) if e.kind == "acknowledge"]
        assert ack.text == f"Acknowledged {how} after 10 min (P1 target 1 h: met)"
        card = str(card_of(stack, number).blocks)
        assert "after 10 min (:white_check_mark: met)" in card and "ack due" not in card

    stack.tick(minutes=51)
    pages = [t for t in stack.thread() if "*Page:*" in t]
    assert len(pages) == 1 and "INC-8 (P1)" in pages[0]
    assert stack.deps.store.incidents.incident(8).breached_at is not None
    assert all(stack.deps.store.incidents.incident(n).breached_at is None for n in said)


def test_the_postmortem_names_people_looked_up_once(stack: Stack) -> None:
    """The post-mortem shows display names from users.info, asked once per person and kept;
    someone Slack cannot name is shown by id, and asked about once too."""
    stack.slack.add_user(ALICE, "alice")
    stack.slack.add_user(BOB_ID, "bob")
    for number in (1, 2):
        stack.command(f"open P1 Login broken {number}")
        stack.command(f"role INC-{number} comms {BOB}")
        stack.command(f"update INC-{number} Rolled back", user=BOB_ID)
        stack.command(f"action INC-{number} <@U0GHOST01> Add a login canary")
        stack.command(f"resolve INC-{number} Reverted v1.4.2")
        stack.settle()
        markdown = stack.deps.store.followups.postmortem(number).markdown
        assert "**Commander:** @alice · **Communications:** @bob" in markdown
        assert "**Participants:** @alice, @bob" in markdown
        assert "owner @U0GHOST01" in markdown  # Slack has no such user: the id, not a guess
        assert ALICE not in markdown and BOB_ID not in markdown
    uploaded = stack.slack.methods("files.completeUploadExternal")
    assert len(uploaded) == 2
    asked = [call["user"] for call in stack.slack.methods("users.info")]
    assert sorted(asked) == sorted([ALICE, BOB_ID, "U0GHOST01"])


def test_a_slow_slack_costs_the_answer_a_second_at_most(stack: Stack) -> None:
    """users.info answering late delays `resolve` by the look-up budget only: the draft shows
    the id, and the name is kept when Slack's answer comes, for the next draft."""
    stack.slack.add_user(ALICE, "alice")
    stack.slack.fault(method="users.info", delay=2.5)
    stack.command("open P1 Login broken")
    started = time.monotonic()
    answer = stack.command("resolve Reverted v1.4.2")
    assert answer.status_code == 200 and time.monotonic() - started < 2.0
    assert "**Commander:** @U0ALICE01" in stack.deps.store.followups.postmortem(1).markdown
    wait_until(lambda: stack.deps.store.people.names([ALICE]), timeout=5)
    stack.command("action INC-1 <@U0ALICE01> Add a login canary")
    assert "**Commander:** @alice" in stack.deps.store.followups.postmortem(1).markdown
