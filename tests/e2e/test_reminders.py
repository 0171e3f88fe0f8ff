"""The P0/P1 commander's reminders over a simulated day, through the serve stack."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.tools.localslack import Message
from tests.e2e.stack import ALICE, Stack
from tests.e2e.test_serve import wait_until


def nags(stack: Stack) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in stack.slack.methods("chat.postEphemeral") if m["user"] == ALICE]


def run_for(stack: Stack, minutes: int) -> list[tuple[datetime, str]]:
    """Tick every 5 minutes; each reminder with the time it was sent."""
    sent: list[tuple[datetime, str]] = []
    for _ in range(minutes // 5):
        before = len(nags(stack))
        stack.tick(minutes=5)
        sent += [(stack.clock(), m["text"]) for m in nags(stack)[before:]]
    return sent


def open_p0(stack: Stack, title: str = "Checkout down") -> datetime:
    stack.command(f"open P0 {title}")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.command("ack" if title == "Checkout down" else "ack INC-2")
    return stack.clock()


def test_a_day_of_an_open_p0_sends_one_reminder_each_half_hour(stack: Stack) -> None:
    """An open P0 nobody updates used to nag its commander twice each half hour (96 a day);
    now one reminder carries what is due: 48 in a day, never two within 30 minutes."""
    opened = open_p0(stack)
    sent = run_for(stack, 24 * 60)
    assert len(sent) == 48
    assert all(
        later - earlier >= timedelta(minutes=30)
        for (earlier, _), (later, _) in zip(sent, sent[1:], strict=False)
    )
    first, second = sent[0][1], sent[1][1]
    assert sent[0][0] - opened == timedelta(minutes=15)
    assert "a public status update" in first and "status update for the team" not in first
    assert "a status update for the team" in second and "a public status update" in second


def test_snooze_holds_off_both_kinds(stack: Stack) -> None:
    """Snooze 60 on a reminder carrying both kinds: nothing at all for an hour, then one
    reminder with both."""
    opened = open_p0(stack)
    sent = run_for(stack, 45)
    reminder = nags(stack)[-1]
    assert len(sent) == 2 and "and a public status update" in reminder["text"]
    [snooze_60] = [
        e
        for b in reminder["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Snooze 60 min"
    ]
    message = Message(stack.card().channel, "1.000001", "U0OPSBOT", reminder["text"])
    assert stack.press(snooze_60, message).status_code == 200
    answer = stack.slack.wait_for_responses(1)[-1]["text"]
    assert answer.startswith(":zzz: Snoozed: no reminder (status or public update) before")
    later = run_for(stack, 65)
    assert [at - opened for at, _ in later] == [timedelta(minutes=105)]
    assert "a status update for the team" in later[0][1] and "public" in later[0][1]


def test_one_commander_of_two_p0s_is_reminded_once_per_ten_minutes(stack: Stack) -> None:
    """Two P0s opened together by one commander: their first reminders come 10 minutes
    apart, not at the same moment."""
    opened = open_p0(stack)
    open_p0(stack, "Search down")
    sent = run_for(stack, 30)
    assert [at - opened for at, _ in sent] == [timedelta(minutes=15), timedelta(minutes=25)]
    assert "INC-1" in sent[0][1] and "INC-2" in sent[1][1]
