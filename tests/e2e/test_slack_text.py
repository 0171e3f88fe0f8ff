"""Text from Slack, back out again: no broadcast pings in what opsbot posts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.tools.localslack import LocalSlack
from tests.e2e.fakes import ThirdParty
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP


@pytest.fixture
def third() -> Iterator[ThirdParty]:
    fake = ThirdParty()
    yield fake
    fake.close()


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


def test_public_text_leaves_slack_as_plain_text(tmp_path, third) -> None:  # type: ignore[no-untyped-def]
    """Slack's entities and references are converted once where text leaves Slack: the
    status page and Statuspage show what was typed, without user ids or channel names; the
    notice uses the public title; the post-mortem file has no raw markup."""
    import json
    from datetime import UTC, datetime

    from tests.conftest import Clock

    page = {
        "statuspage_api_key": "sp-key",
        "statuspage_page_id": "page1",
        "statuspage_url": f"{third.url}/v1",
        "notice_webhook": f"{third.url}/notice",
    }
    with LocalSlack() as slack:
        stack = Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)), status_page=page)
        try:
            stack.command("open P1 Auth &amp; sessions down")
            stack.command("public-title INC-1 Login &amp; signup &lt;EU&gt;")
            stack.command(
                "public INC-1 Login &amp; signup slow &lt;EU only&gt;, <@U0ALICE01> is on it "
                "in <#C0SECRET|secret-chan>, see <https://status.example.com/x|details>"
            )
            stack.command("notify INC-1")
            stack.command("resolve INC-1 Fixed the &lt;session&gt; store")
            stack.settle()
            data = HTTP.get(stack.url.replace("/slack/events", "/status.json"), timeout=5)
            shown = json.dumps(data.json())
        finally:
            stack.stop()
        files = [f for m in slack.history("#incidents") for f in m.files]
        markdown = [slack.uploads[f["id"]]["content"] for f in files]
    sent = json.dumps(third.calls)
    for out in (shown, sent):
        assert "U0ALICE01" not in out and "secret-chan" not in out and "C0SECRET" not in out
        assert "&amp;" not in out and "&lt;" not in out
    assert "Login & signup slow <EU only>" in sent and "details" in sent
    notice = next(c["body"] for c in third.calls if c["path"] == "/notice")
    assert "Login & signup <EU>" in notice["text"], notice["text"][:300]
    assert markdown and "&lt;" not in markdown[0] and "<@" not in markdown[0]
    assert "Fixed the <session> store" in markdown[0]


def test_typed_text_reaches_the_card_escaped_once(stack: Stack) -> None:
    """Slack delivers `<`, `>` and `&` as entities; the card must show them as typed, so the
    bot must post them as it got them, not escape them a second time."""
    from bot.tools.localslack import escape

    stack.command(escape("open P2 Checkout < 5% & errors > 2x"))
    stack.settle()
    card = stack.card()
    shown = card.text + str(card.blocks)
    assert "Checkout &lt; 5% &amp; errors &gt; 2x" in shown
    assert "&amp;lt;" not in shown and "&amp;amp;" not in shown


def test_posting_where_the_bot_is_not_a_member_needs_chat_write_public() -> None:
    """Without chat:write.public Slack refuses a post to a channel the bot was not invited to;
    with it, the post lands but reaction events from there still never reach the bot."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    for scopes, refused in ((("chat:write",), True), (("chat:write", "chat:write.public"), False)):
        with LocalSlack(scopes=scopes) as slack:
            slack.leave("#incidents")
            client = WebClient(token="xoxb-x", base_url=slack.api_base)
            if refused:
                with pytest.raises(SlackApiError) as caught:
                    client.chat_postMessage(channel="#incidents", text="hello")
                assert caught.value.response["error"] == "not_in_channel"
            else:
                answer = client.chat_postMessage(channel="#incidents", text="hello")
                assert answer.headers["x-oauth-scopes"] == "chat:write,chat:write.public"
            assert not slack.is_member("#incidents")
            listed = client.conversations_list()["channels"]
            assert [c["is_member"] for c in listed] == [False]
