import pytest

from bot.replies import UserError
from commands.incident import parse as p

SEVERITIES = ("P0", "P1", "P2", "P3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", p.Help()),
        ("help", p.Help()),
        ("open Login broken", p.Open("Login broken")),
        ("open P1 Login broken", p.Open("Login broken", "P1")),
        ("open p0   Site   down ", p.Open("Site down", "P0")),
        ("OPEN P3 can't upload avatars", p.Open("can't upload avatars", "P3")),
        ("ack", p.Ack()),
        ("ack INC-4", p.Ack(4)),
        ("ack inc-4", p.Ack(4)),
        ("ack 4", p.Ack(4)),
        ("resolve", p.Resolve()),
        ("resolve INC-2 Reverted v1.4.2", p.Resolve(2, "Reverted v1.4.2")),
        ("resolve Reverted the deploy", p.Resolve(None, "Reverted the deploy")),
        ("update INC-2 Rolled back", p.Update("Rolled back", 2)),
        ("update 3 users affected", p.Update("3 users affected")),
        ("sev INC-2 p1", p.Sev("P1", 2)),
        ("sev P0", p.Sev("P0")),
        ("status INC-2 Mitigating", p.Status("mitigating", 2)),
        ("lead INC-2 <@U0BOB0001|bob>", p.Lead("U0BOB0001", 2)),
        ("lead <@U0BOB0001>", p.Lead("U0BOB0001")),
        ("list", p.List()),
        ("list open", p.List()),
        ("list all", p.List(everything=True)),
        ("show INC-7", p.Show(7)),
        ("timeline", p.Timeline()),
        ("postmortem INC-1", p.Postmortem(1)),
    ],
)
def test_parses(text: str, expected: p.Args) -> None:
    """Each documented form parses into its dataclass."""
    assert p.parse(text, SEVERITIES) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("open", "needs a title"),
        ("open P1", "needs a title"),
        ("open P7 Something", "Unknown severity `P7`"),
        ("frobnicate", "Unknown subcommand `frobnicate`"),
        ("ack INC-2 now please", "takes only an incident id"),
        ("update INC-2", "needs text"),
        ("sev INC-2", "one severity"),
        ("sev INC-2 P9", "Unknown severity"),
        ("status INC-2 sleeping", "takes one of investigating"),
        ("lead INC-2 bob", "one @user"),
        ("list some", "`list` takes `open` or `all`"),
        ("show INC-2 extra", "takes only an incident id"),
    ],
)
def test_rejects_with_usage(text: str, complaint: str) -> None:
    """Bad input raises a UserError that says what is wrong and shows the usage."""
    with pytest.raises(UserError) as caught:
        p.parse(text, SEVERITIES)
    assert complaint in caught.value.message
    assert caught.value.usage == p.USAGE


def test_severities_come_from_config() -> None:
    """A team that configures its own levels can use them, and only them."""
    assert p.parse("open SEV1 Down", ("SEV1",)) == p.Open("SEV1 Down")
    assert p.parse("open P9 Down", ("P9",)) == p.Open("Down", "P9")
