"""/incident stats through the serve stack: answered at once, then the figures and two PNG
charts posted in the channel through the outbox (Slack's current upload flow), the numbers
in text beside them; an empty period says so; a period it does not know is one line."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.stack import ALICE, Stack
from tests.e2e.test_serve import wait_until

BOB = "U0BOB0001"
CHANNEL = "C0STATS01"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with LocalSlack() as slack:
        slack.add_user(ALICE, "alice")
        slack.add_user(BOB, "bob")
        made = Stack(
            slack,
            tmp_path / "opsbot.db",
            Clock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
            outbox={"slack_posts_per_second": 50, "slack_burst": 50},
        )
        yield made
        made.stop()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def test_the_figures_and_their_charts_follow_the_answer(stack: Stack) -> None:
    slack = stack.slack
    stack.command("open P1 Login broken")
    stack.clock.advance(minutes=10)
    stack.command("ack INC-1", user=BOB)
    stack.clock.advance(minutes=50)
    stack.command("resolve INC-1 Reverted")
    stack.command("open P1 Search slow")
    stack.clock.advance(minutes=30)
    stack.command("ack INC-2")
    stack.settle()
    answer = stack.command("stats 30d", channel=CHANNEL).json()
    assert answer["text"].startswith(":bar_chart: Working out the last 30 days")
    wait_until(lambda: len([m for m in slack.history(CHANNEL) if m.files]) == 2, timeout=30)
    stack.settle()
    [said] = [m for m in slack.history(CHANNEL) if not m.files]
    text = str(said.blocks)
    # acknowledged after 10 and 30 minutes: median 20, p90 30; both within P1's hour
    assert "*P1*: 2 opened · acknowledged in 20 min median, 30 min p90 · 100% within 1 h" in text
    assert "resolved in 1 h median, 1 h p90" in text
    assert "week of 02 Nov: 2 P1" in text
    assert "• October 2026: no incident" in text  # the 30 days began in October
    assert "• November 2026: P1 20 min (100% within target)" in text
    assert "*Opened by*: by hand 2" in text and "Nobody was paged." in text
    assert "No alert came in." in text and "Silences in force: none" in text
    charts = [m.files[0] for m in slack.history(CHANNEL) if m.files]
    assert [c["name"] for c in charts] == ["incidents-acknowledge.png", "incidents-weekly.png"]
    for chart in charts:
        assert png_size(slack.file_bytes(chart["id"])) == (800, 400)
    shared = [c for c in slack.calls if c.method == "files.completeUploadExternal"]
    assert len([c for c in shared if c.body.get("channel_id") == CHANNEL]) == 2  # no page, alert
    assert not [c for c in slack.calls if c.method == "files.upload"]  # retired by Slack


def test_an_empty_period_says_so_and_a_bad_one_is_one_line(stack: Stack) -> None:
    answer = stack.command("stats 2026-10", channel=CHANNEL).json()
    assert "October 2026" in answer["text"]
    wait_until(lambda: stack.slack.history(CHANNEL), timeout=30)
    said = stack.slack.history(CHANNEL)[0].text
    assert said == "No incident, page or alert in October 2026: nothing to chart."
    for typed in ("13m", "2026-13"):
        said = stack.command(f"stats {typed}", channel=CHANNEL).json()["text"]
        assert "`30d`, `90d`" in said and typed in said
    assert len(stack.slack.history(CHANNEL)) == 1  # nothing more was posted


def test_pages_in_the_paged_persons_own_time_and_the_noisiest_alerts(tmp_path: Path) -> None:
    """Bob, on call in New York, is paged at 09:01 UTC on a Monday: 04:01 there, at night.
    An alert group repeated four times comes first among the noisy ones."""
    with LocalSlack() as slack:
        slack.add_user(ALICE, "alice")
        slack.add_user(BOB, "bob", tz="America/New_York")
        stack = Stack(
            slack,
            tmp_path / "opsbot.db",
            Clock(datetime(2026, 11, 2, 8, 0, tzinfo=UTC)),
            outbox={"slack_posts_per_second": 50, "slack_burst": 50},
            oncall={"rotation": [BOB]},
        )
        try:
            stack.command("open P1 Login broken")
            stack.tick(hours=1, minutes=1)  # past its hour: Bob is paged
            now = stack.clock().isoformat()
            for group, repeats in (("db", 4), ("disk", 0)):
                stack.deps.store.alerts.save_alert(
                    {
                        "source": "alertmanager",
                        "fingerprint": group,
                        "status": "firing",
                        "summary": group,
                        "labels": "{}",
                        "group_key": group,
                        "first_seen": now,
                        "last_seen": now,
                        "repeats": repeats,
                    }
                )
            stack.settle()
            stack.command("stats 7d", channel=CHANNEL)
            wait_until(lambda: len([m for m in slack.history(CHANNEL) if m.files]) == 4, timeout=30)
            [said] = [m for m in slack.history(CHANNEL) if not m.files]
            text = str(said.blocks)
            assert "• bob: 1 (1 at night, 0 at the weekend, America/New_York)" in text
            assert "• alertmanager db: 5 alerts · 0 incidents" in text
            names = [m.files[0]["name"] for m in slack.history(CHANNEL) if m.files]
            assert names[2:] == ["incidents-pages.png", "incidents-alerts.png"]
            for m in slack.history(CHANNEL):
                if m.files:
                    assert png_size(slack.file_bytes(m.files[0]["id"])) == (800, 400)
        finally:
            stack.stop()


def test_charts_opsbot_cannot_share_there_are_said_to_who_asked(stack: Stack) -> None:
    """A channel opsbot is not in: the text goes (chat:write.public), the charts cannot
    (files need membership), and whoever asked is told so in a DM, once."""
    stack.command("open P1 Login broken")
    stack.settle()
    stack.slack.leave(CHANNEL)
    stack.command("stats 7d", channel=CHANNEL)
    wait_until(lambda: stack.slack.history(ALICE), timeout=60)
    [told] = stack.slack.history(ALICE)
    assert "could not be shared" in told.text and "not_in_channel" in told.text
    assert [m for m in stack.slack.history(CHANNEL) if m.files] == []
