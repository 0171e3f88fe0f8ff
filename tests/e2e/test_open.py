"""The answer to opening an incident, through the serve stack: it is given before the card is
posted, so it says the card is on its way, in the channel as configured."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.stack import Stack

# The whole flow once per engine: SQLite and PostgreSQL.
pytestmark = pytest.mark.both_engines


def test_the_open_answer_says_announcing_until_the_card_is_posted(tmp_path: Path) -> None:
    """`/incident open` answers "announcing in #ops-incidents"; "Announced in" is the card's
    timeline entry, written once the card is there."""
    with LocalSlack() as slack:
        stack = Stack(
            slack,
            tmp_path / "opsbot.db",
            Clock(datetime(2026, 12, 7, 10, 0, tzinfo=UTC)),
            incidents_channel="#ops-incidents",
        )
        try:
            stack.deps.outbox.stop()  # nothing is delivered until the drain below
            said = stack.command("open P1 Login broken").json()["text"]
            assert said.endswith("Login broken (announcing in #ops-incidents).")
            assert "Announced" not in said
            assert slack.history("#ops-incidents") == []
            assert [e for e in stack.deps.store.incidents.timeline(1) if e.kind == "post"] == []
            stack.deps.outbox.drain()
            [card] = slack.history("#ops-incidents")
            posts = [e.text for e in stack.deps.store.incidents.timeline(1) if e.kind == "post"]
        finally:
            stack.stop()
    assert "INC-1" in card.text and posts == ["Announced in #ops-incidents"]
