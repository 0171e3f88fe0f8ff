"""The Block Kit helpers build plain dicts; slack_sdk's models must accept every one of them
unchanged (its validators check Slack's limits), including text past the limits."""

from datetime import timedelta

from slack_sdk.models.blocks import Block

from bot.domain.incidents.card import render_card
from bot.replies import ago, blocks, buttons, context, divider, header, markdown, section
from tests.test_incident_render import INCIDENT


def round_trip(block: dict) -> dict:
    return Block.parse(block).to_dict()  # type: ignore[union-attr]


def test_every_helper_is_valid_block_kit() -> None:
    """Each helper's output survives slack_sdk's parse and validation as it is."""
    long = "x" * 20_000
    made = blocks(
        header(long),
        section(long, [long] * 12),
        context(*[long] * 12),
        divider(),
        buttons(
            [(f"a.{n}", long, long, "primary" if n == 0 else None) for n in range(30)], block_id="b"
        ),
        markdown(long),
    )
    for block in made[:-1]:  # slack_sdk's MarkdownBlock has no parse support to compare with
        assert round_trip(block) == block
    assert len(made[-1]["text"]) == 12_000


def test_a_real_card_is_valid_block_kit() -> None:
    """The incident card passes slack_sdk's validation unchanged."""
    from datetime import timedelta

    from bot.config import Settings

    card = render_card(
        INCIDENT,
        Settings(),
        oncall="U0BOB0001",
        entries=[],
        now=INCIDENT.opened_at + timedelta(minutes=3),
    )
    assert [round_trip(b) for b in card.blocks] == card.blocks


def test_an_age_in_the_future_is_never_shown_as_past() -> None:
    """A time after now (a clock set back) reads "from now", never "ago"."""
    assert ago(timedelta(minutes=30)) == "30 min ago"
    assert ago(timedelta(minutes=-30)) == "30 min from now"
    assert ago(timedelta(seconds=-0.5)) == "0 s ago"
