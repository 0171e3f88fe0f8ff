"""The card's small forms through signed requests and the local Slack: Post update (a status
and text, internal or public), Change severity, and Resolve (summary, root cause, impact:
they fill the post-mortem). A button opens its form with one views.open; what is wrong is
said under its field and nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.tools.localslack import LocalSlack, Message, View, signed_headers, view_submission
from tests.conftest import Clock
from tests.e2e.stack import ALICE, SECRET, Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP

BOB = "U0BOB0001"
FAST = {"backoff_cap_seconds": 0.1, "slack_posts_per_second": 50, "slack_burst": 50}
pytestmark = pytest.mark.both_engines  # each form's change, on SQLite and on PostgreSQL


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        workspace.add_user(ALICE, "alice")
        workspace.add_user(BOB, "bob")
        yield workspace


@pytest.fixture
def stack(slack: LocalSlack, database: str) -> Iterator[Stack]:
    made = Stack(
        slack,
        database,
        Clock(datetime.now(UTC)),
        outbox=FAST,
        oncall={"rotation": [BOB]},
        incidents={"channel": "P0-P1"},
    )
    yield made
    made.stop()


def card(slack: LocalSlack) -> Message:
    [first] = [m for m in slack.history("#incidents") if not m.thread_ts][:1]
    return first


def button(message: Message, action_id: str) -> dict[str, Any]:
    return next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


def open_form(stack: Stack, slack: LocalSlack, action_id: str, user: str = ALICE) -> View:
    """Press the card's button; the one form it opens."""
    stack.settle()
    before = len(slack.views())
    assert stack.press(button(card(slack), action_id), card(slack), user).status_code == 200
    wait_until(lambda: len(slack.views()) > before)
    form = slack.views()[-1]
    slack.close_view(form.id)
    return form


def submit(stack: Stack, form: View, values: dict[str, Any]) -> httpx.Response:
    body = view_submission(form.view, values, user=form.user)
    headers = {**signed_headers(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    return HTTP.post(stack.url, content=body.encode(), headers=headers, timeout=10)


def texts(stack: Stack, number: int = 1) -> list[str]:
    return [e.text for e in stack.deps.store.incidents.timeline(number)]


def test_post_update_sets_the_status_and_goes_public(stack: Stack, slack: LocalSlack) -> None:
    stack.command("open P2 Search slow")
    form = open_form(stack, slack, "incident.form.update")
    assert form.view["private_metadata"] == "1" and form.user == ALICE
    statuses = [o["value"] for o in form.view["blocks"][1]["element"]["options"]]
    assert statuses == ["keep", "investigating", "identified", "mitigating", "monitoring"]
    answer = submit(
        stack,
        form,
        {
            "status": {"status": "mitigating"},
            "text": {"text": "Rolled back the index change"},
            "audience": {"audience": "public"},
        },
    )
    assert answer.status_code == 200 and answer.text == ""  # the form closes
    stack.settle()
    incident = stack.deps.store.incidents.incident(1)
    assert incident is not None and incident.status == "mitigating"
    assert "Public update: Rolled back the index change" in texts(stack)
    thread = [m.text for m in slack.history("#incidents") if m.thread_ts]
    assert any("Public update: Rolled back the index change" in t for t in thread)


def test_an_update_without_text_or_with_a_status_gone_stale_changes_nothing(
    stack: Stack, slack: LocalSlack
) -> None:
    stack.command("open P2 Search slow")
    form = open_form(stack, slack, "incident.form.update")
    before = texts(stack)
    empty = submit(stack, form, {"text": {"text": "   "}, "audience": {"audience": "internal"}})
    assert empty.json()["response_action"] == "errors" and "text" in empty.json()["errors"]
    # someone moved it on meanwhile: the form's choice no longer applies
    stack.command("status INC-1 mitigating")
    stack.settle()
    before = texts(stack)
    stale = submit(
        stack,
        form,
        {
            "status": {"status": "mitigating"},
            "text": {"text": "Now fixing"},
            "audience": {"audience": "internal"},
        },
    )
    said = stale.json()
    assert said["response_action"] == "errors" and "is mitigating" in said["errors"]["status"]
    assert texts(stack) == before  # nor was the text posted
    internal = submit(stack, form, {"text": {"text": "Now fixing"}})
    assert internal.text == ""
    assert texts(stack)[-1] == "Now fixing"
    # resolved since the form opened: nothing is posted, on the timeline or the status page
    stack.command("resolve INC-1 Fixed")
    stack.settle()
    before = texts(stack)
    late = submit(stack, form, {"text": {"text": "Late"}, "audience": {"audience": "public"}})
    assert "is resolved" in late.json()["errors"]["text"]
    assert texts(stack) == before


def test_change_severity_raises_it_with_its_reason_and_the_channel_follows(
    stack: Stack, slack: LocalSlack
) -> None:
    stack.command("open P2 Checkout slow")
    form = open_form(stack, slack, "incident.form.severity")
    same = submit(stack, form, {"level": {"level": "P2"}})
    assert "already P2" in same.json()["errors"]["level"]
    answer = submit(
        stack, form, {"level": {"level": "P1"}, "why": {"why": "Every checkout fails now"}}
    )
    assert answer.text == ""
    stack.settle()
    incident = stack.deps.store.incidents.incident(1)
    assert incident is not None and incident.severity == "P1"
    assert "Severity: P2 → P1 (High): Every checkout fails now" in texts(stack)
    # a reason is no status update: the incident is not acknowledged by it
    assert incident.acked_at is None
    assert slack.room("#inc-1-checkout-slow").topic.startswith("P1 ·")  # P1s get a channel


def test_resolve_fills_the_post_mortem_and_a_resolved_card_opens_no_form(
    stack: Stack, slack: LocalSlack
) -> None:
    stack.command("open P2 Search slow")
    form = open_form(stack, slack, "incident.resolve")
    assert form.view["title"]["text"] == "Resolve INC-1"
    answer = submit(
        stack,
        form,
        {
            "summary": {"summary": "Reverted the index change"},
            "root_cause": {"root_cause": "An index dropped by a migration"},
            "impact": {"impact": "Search took 20 s for 40 minutes"},
        },
    )
    assert answer.text == ""
    stack.settle()
    incident = stack.deps.store.incidents.incident(1)
    assert incident is not None and incident.status == "resolved"
    assert incident.summary == "Reverted the index change"
    draft = stack.deps.store.followups.postmortem(1)
    assert draft is not None
    root = draft.markdown.split("## Root cause", 1)[1].split("##", 1)[0]
    assert "An index dropped by a migration" in root
    impact = draft.markdown.split("## Impact", 1)[1].split("##", 1)[0]
    assert "Search took 20 s for 40 minutes" in impact
    lines = [m.text for m in slack.history("#incidents") if m.thread_ts]
    assert any("Root cause: An index dropped by a migration" in t for t in lines)
    # and the resolution notice users are sent says them too
    from bot.domain.status.notices import text_of

    notice = text_of(stack.deps, incident)
    assert "Impact: Search took 20 s for 40 minutes" in notice
    assert "Root Cause: An index dropped by a migration" in notice
    # the same form sent again: already resolved, said under its field, nothing doubled
    again = submit(stack, form, {"summary": {"summary": "Again"}})
    assert "resolved" in again.json()["errors"]["summary"]
    assert texts(stack).count("Root cause: An index dropped by a migration") == 1
    # the Resolve button of the card as it was before: one line, no form
    views = len(slack.views())
    pressed = {"action_id": "incident.resolve", "value": "1", "type": "button"}
    assert stack.press(pressed, card(slack)).status_code == 200
    wait_until(lambda: any("is resolved" in str(r) for r in slack.responses))
    assert len(slack.views()) == views
