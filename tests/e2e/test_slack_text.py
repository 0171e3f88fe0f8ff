"""Text from Slack, back out again: no broadcast pings in what opsbot posts."""

from __future__ import annotations

from bot.localslack import LocalSlack
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until

BROADCASTS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam^S0ONCALL|@oncall>")


def test_user_text_never_pings_a_channel(stack: Stack) -> None:
    """@channel typed into a title or an update (Slack sends <!channel>) is reposted as plain
    text everywhere: the card, its thread, the ack; user mentions stay mentions."""
    acks = [
        stack.command("open P3 Ping <!channel> <!here> from <@U0BOB0001>").text,
        stack.command("update INC-1 still <!everyone> <!subteam^S0ONCALL|@oncall>").text,
    ]
    wait_until(lambda: len(stack.thread()) >= 1)
    stack.settle()
    slack: LocalSlack = stack.slack
    posted = [(m.text, str(m.blocks)) for m in slack.history("#incidents")]
    answers = [str(r) for r in slack.responses] + acks
    for text in [t for pair in posted for t in pair] + answers:
        assert not any(b in text for b in BROADCASTS), text
    assert any("<@U0BOB0001>" in t for t, _ in posted)
    assert any("@\u2060channel" in t for t, _ in posted)
