"""Response targets, escalation and reminders through the serve stack, on a controllable clock.

The HTTP edge is the one `opsbot serve` runs (bot.wiring.http_server: Bolt + /healthz under
waitress), built in-process so the test owns the clock; timers fire through the same job the
scheduler runs every 30 seconds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.tools.localslack import Message
from tests.e2e.stack import ALICE, Stack
from tests.e2e.test_serve import wait_until

# The whole flow once per engine: SQLite and PostgreSQL.
pytestmark = pytest.mark.both_engines


def card_text(stack: Stack) -> str:
    return str(stack.card().blocks)


def test_p0_unacknowledged_past_15_minutes_breaches_and_pages(stack: Stack) -> None:
    """The card counts down, shows the breach, and the escalation pages exactly once."""
    stack.command("open P0 Checkout down")
    wait_until(lambda: stack.slack.history("#incidents"))
    assert "(15 min left)" in card_text(stack)

    assert "card refreshed" in stack.tick(minutes=5)  # the countdown moves on the card
    assert "(10 min left)" in card_text(stack)

    assert "response target missed, paged commander" in stack.tick(minutes=11)
    assert "target missed: ack overdue since" in card_text(stack)
    [page] = [t for t in stack.thread() if "within its 15 min response target" in t]
    assert page.startswith(f"<@{ALICE}>")  # nobody is on call: the commander is paged
    assert stack.slack.history(ALICE)[0].text.startswith(":rotating_light: *Page:*")  # DM
    breach = [e for e in stack.deps.store.incidents.timeline(1) if e.kind == "breach"]
    assert len(breach) == 1 and stack.deps.store.incidents.incident(1).breached_at is not None

    stack.tick(minutes=5)
    assert len([t for t in stack.thread() if "*Page:*" in t]) == 1  # no second page


def test_ack_in_time_stops_the_escalation(stack: Stack) -> None:
    """Acknowledged before the target: no breach, no page, the countdown stops."""
    stack.command("open P0 Checkout down")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.clock.advance(minutes=10)
    stack.command("ack")
    wait_until(lambda: "(acknowledged)" in stack.card().text)
    stack.tick(minutes=30)
    assert not [t for t in stack.thread() if "*Page:*" in t]
    # the countdown, breach and escalation are off; the communication reminders stay
    assert stack.deps.store.incidents.timers(1).keys() == {"status_reminder", "public_update"}


def test_reminders_survive_a_restart_and_can_be_snoozed(stack: Stack) -> None:
    """A P1's status reminder armed before a restart still reaches the commander after it;
    Snooze pushes the next one back."""
    stack.command("open P1 Login broken")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.command("ack")
    wait_until(lambda: "(acknowledged)" in stack.card().text)
    armed = stack.deps.store.incidents.timers(1)["status_reminder"]

    stack.restart()
    assert stack.deps.store.incidents.timers(1)["status_reminder"] == armed
    assert "reminder sent to the commander (status update" in stack.tick(minutes=31)
    [reminder] = [
        m
        for m in stack.slack.methods("chat.postEphemeral")
        if "a status update for the team" in m["text"]
    ]
    assert reminder["user"] == ALICE

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
    assert stack.deps.store.incidents.timers(1)["status_reminder"] == stack.clock() + timedelta(
        minutes=60
    )
    assert "reminder sent" not in stack.tick(minutes=59)  # snoozed


def test_an_update_resets_the_reminder_and_resolve_disarms_all(stack: Stack) -> None:
    """Giving a status update moves the reminder a full interval on; resolving stops them."""
    stack.command("open P1 Login broken")
    wait_until(lambda: stack.slack.history("#incidents"))
    stack.clock.advance(minutes=20)
    stack.command("update Rolled back to v1.4.1")
    assert stack.deps.store.incidents.timers(1)["status_reminder"] == stack.clock() + timedelta(
        minutes=30
    )
    stack.command("resolve")
    wait_until(lambda: "(resolved)" in stack.card().text)
    assert stack.deps.store.incidents.timers(1) == {}


def test_p3_gets_a_still_open_nudge_in_working_hours(stack: Stack) -> None:
    """A P3 gets no status reminders, but a "still open?" in working hours the next day."""
    stack.command("open P3 Typo on the pricing page")
    wait_until(lambda: stack.slack.history("#incidents"))
    due = stack.deps.store.incidents.timers(1)["still_open"]
    assert due.weekday() < 5 and 9 <= due.hour < 18 and due > stack.clock()
    assert "status_reminder" not in stack.deps.store.incidents.timers(1)
    stack.tick(seconds=(due - stack.clock()).total_seconds())
    assert any("Still happening?" in t for t in stack.thread())
