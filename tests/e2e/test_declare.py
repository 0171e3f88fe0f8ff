"""Declaring with a form, through signed requests and the local Slack: `/incident` with no
text opens the declare modal (one views.open, within the trigger's 3 s); the "Declare
incident" shortcut prefills it from a message, which becomes the first timeline entry; an
invalid form is answered under its fields and creates nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from bot.tools.localslack import (
    LocalSlack,
    View,
    home_action,
    message_shortcut,
    signed_headers,
    view_submission,
)
from tests.conftest import Clock
from tests.e2e.stack import ALICE, SECRET, Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP

BOB = "U0BOB0001"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        workspace.add_user(ALICE, "alice")
        workspace.add_user(BOB, "bob")
        yield workspace


@pytest.fixture
def stack(tmp_path: Path, slack: LocalSlack) -> Iterator[Stack]:
    made = Stack(
        slack,
        tmp_path / "opsbot.db",
        Clock(datetime.now(UTC)),
        outbox={"backoff_cap_seconds": 0.1, "slack_posts_per_second": 50, "slack_burst": 50},
        incidents={"channel": "P0-P1"},
    )
    yield made
    made.stop()


def send(stack: Stack, body: str) -> httpx.Response:
    headers = {**signed_headers(body, SECRET), "Content-Type": FORM}
    return HTTP.post(stack.url, content=body.encode(), headers=headers, timeout=10)


def opened(slack: LocalSlack) -> View:
    """The one modal open: views.open is made right after the answer (ack first)."""
    wait_until(lambda: slack.views())
    [form] = slack.views()
    return form


def submit(stack: Stack, view: View, values: dict[str, Any]) -> httpx.Response:
    return send(stack, view_submission(view.view, values, user=view.user))


def test_the_command_alone_opens_the_form_and_its_submission_declares(
    stack: Stack, slack: LocalSlack
) -> None:
    answer = stack.command("")
    assert answer.status_code == 200 and answer.text == ""
    form = opened(slack)
    assert form.user == ALICE and form.view["callback_id"] == "incident.declare"
    labels = [o["text"]["text"] for o in form.view["blocks"][1]["element"]["options"]]
    assert labels[0] == "P0 Critical: respond within 15 min"
    assert [c.method for c in slack.calls].count("views.open") == 1
    done = submit(
        stack,
        form,
        {
            "title": {"title": "  Checkout   down "},
            "severity": {"severity": "P1"},
            "known": {"known": "Payments fail since 10:02"},
            "private": {"private": ["yes"]},
        },
    )
    assert done.status_code == 200 and done.text == ""  # the modal closes
    stack.settle()
    incident = stack.deps.store.incidents.incident(1)
    assert incident is not None and (incident.title, incident.severity) == ("Checkout down", "P1")
    assert slack.room("#inc-1-checkout-down").private  # asked for in the form
    timeline = [e.text for e in stack.deps.store.incidents.timeline(1)]
    assert "Known at declaration: Payments fail since 10:02" in timeline


def test_an_invalid_form_is_answered_under_its_fields_and_creates_nothing(
    stack: Stack, slack: LocalSlack
) -> None:
    stack.command("")
    form = opened(slack)
    answer = submit(stack, form, {"title": {"title": "   "}, "severity": {"severity": "P9"}})
    assert answer.status_code == 200
    said = answer.json()
    assert said["response_action"] == "errors"
    assert set(said["errors"]) == {"title", "severity"}
    assert "needs a title" in said["errors"]["title"]
    assert stack.deps.store.incidents.find(open_only=False) == []
    assert stack.deps.store.outbox.effects(("pending", "done")) == []


def test_a_message_becomes_an_incident_and_its_first_timeline_entry(
    stack: Stack, slack: LocalSlack
) -> None:
    said = slack.post("#general", BOB, "Checkout returns 502 for everyone since 10:02")
    body = message_shortcut(
        "incident.declare",
        said,
        user=ALICE,
        user_name="alice",
        response_url=slack.response_url(),
    )
    assert send(stack, body).status_code == 200
    form = opened(slack)
    known = form.view["blocks"][2]["element"]["initial_value"]
    assert known == "Checkout returns 502 for everyone since 10:02"
    stack.clock.advance(minutes=3)  # declared three minutes after the report
    submit(stack, form, {"title": {"title": "Checkout down"}, "severity": {"severity": "P0"}})
    stack.settle()
    [first, *_] = stack.deps.store.incidents.timeline(1)
    assert first.actor == BOB and first.at == datetime.fromtimestamp(float(said.ts), UTC)
    assert first.text.startswith("Reported: “Checkout returns 502 for everyone since 10:02”")
    assert f"/archives/{said.channel}/p{said.ts.replace('.', '')}" in first.text
    assert not slack.room("#inc-1-checkout-down").private


def test_the_prefilled_text_reads_as_in_slack_not_as_its_markup(
    stack: Stack, slack: LocalSlack
) -> None:
    """Slack's message text carries `<@U…>`, `&amp;` and `<url|label>`: the form shows them
    as Slack does; the quote on the timeline keeps Slack's markup, which Slack renders."""
    stack.deps.store.people.save_name(BOB, "bob", stack.clock())
    text = "<@U0BOB0001> says checkout &amp; payments fail, see <https://g.example/d/1|dashboard>"
    said = slack.post("#general", ALICE, text)
    body = message_shortcut(
        "incident.declare", said, user=ALICE, user_name="alice", response_url=slack.response_url()
    )
    assert send(stack, body).status_code == 200
    form = opened(slack)
    known = form.view["blocks"][2]["element"]["initial_value"]
    assert known == "@bob says checkout & payments fail, see dashboard"
    values = {"title": {"title": "Checkout down"}, "severity": {"severity": "P2"}}
    submit(stack, form, {**values, "known": {"known": known}})
    entries = stack.deps.store.incidents.timeline(1)
    assert f"“{text}”" in entries[0].text
    assert not [e for e in entries if e.text.startswith("Known at declaration")]  # unchanged


def test_a_trigger_slack_no_longer_takes_is_said_with_the_command_instead(
    stack: Stack, slack: LocalSlack
) -> None:
    """The trigger_id is 4 s old when the bot gets it (a slow network): views.open says
    trigger_expired, and the person is told to type the command; nothing opens."""
    body = stack_command_body(stack, slack, trigger=f"{time.time() - 4:.6f}.{ALICE}")
    assert send(stack, body).status_code == 200
    wait_until(lambda: [r for r in slack.responses if "did not open" in json.dumps(r)])
    told = [r for r in slack.responses if "did not open" in json.dumps(r)]
    assert "trigger_expired" in json.dumps(told[-1]) and "/incident open P1" in json.dumps(told[-1])
    assert slack.views() == []


def stack_command_body(stack: Stack, slack: LocalSlack, *, trigger: str) -> str:
    from bot.tools.localslack import slash_command

    body = slash_command(
        "/incident",
        "",
        user=ALICE,
        user_name="alice",
        channel="C0CMD",
        response_url=slack.response_url(),
    )
    fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    return urlencode({**fields, "trigger_id": trigger})


def test_a_long_message_in_any_script_fits_the_form(stack: Stack, slack: LocalSlack) -> None:
    """Slack's 3,000 characters of private_metadata count characters, not JSON escapes: a
    long Cyrillic message still opens the form, its quote cut to fit."""
    said = slack.post("#general", BOB, "Оплата не проходит у всех клиентов. " * 60)
    body = message_shortcut(
        "incident.declare", said, user=ALICE, user_name="alice", response_url=slack.response_url()
    )
    assert send(stack, body).status_code == 200
    form = opened(slack)
    assert len(form.view["private_metadata"]) <= 3000
    assert json.loads(form.view["private_metadata"])["text"].startswith("Оплата не проходит")


def test_a_busy_database_is_said_in_the_form_which_stays_open(
    stack: Stack, slack: LocalSlack, tmp_path: Path
) -> None:
    """Another process holds the database past the write budget when Declare is pressed:
    the form says so under the title (a modal cannot show a chat answer), nothing is
    created, and pressing Declare again works."""
    import sqlite3
    import threading

    stack.command("")
    form = opened(slack)
    values = {"title": {"title": "Checkout down"}, "severity": {"severity": "P1"}}
    holder = sqlite3.connect(tmp_path / "opsbot.db", check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(3.0, holder.rollback)
    timer.start()
    answer = submit(stack, form, values)
    timer.join()
    said = answer.json()
    assert said["response_action"] == "errors" and "nothing was created" in said["errors"]["title"]
    assert stack.deps.store.incidents.find(open_only=False) == []
    assert submit(stack, form, values).text == ""
    assert stack.deps.store.incidents.incident(1) is not None


def test_the_app_homes_button_opens_the_form(stack: Stack, slack: LocalSlack) -> None:
    """The Home tab's "Declare an incident": the same form, and its submission declares."""
    from bot.domain.incidents.card import DECLARE_FORM
    from commands.home import home_view

    home = home_view(stack.deps, ALICE)
    [pressed] = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert pressed["action_id"] == DECLARE_FORM
    assert send(stack, home_action(pressed, home, user=ALICE)).status_code == 200
    form = opened(slack)
    assert form.user == ALICE and form.view["callback_id"] == "incident.declare"
    submit(stack, form, {"title": {"title": "Login broken"}, "severity": {"severity": "P2"}})
    incident = stack.deps.store.incidents.incident(1)
    assert incident is not None and incident.opened_by == ALICE
