from datetime import date, timedelta

import pytest

from bot.replies import UserError
from commands.oncall import parse as p

A, B = "<@U0ALICE01|alice>", "<@U0BOB0001>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", p.Now()),
        ("now", p.Now()),
        ("help", p.Help()),
        ("contacts", p.Contacts()),
        ("schedule", p.Schedule()),
        ("schedule 8", p.Schedule(8)),
        (f"set {A} {B}", p.Set(("U0ALICE01", "U0BOB0001"))),
        (f"override {B} 2d", p.Override("U0BOB0001", length=timedelta(days=2))),
        (f"override {B} 12h", p.Override("U0BOB0001", length=timedelta(hours=12))),
        (
            f"override {B} until 2026-12-03",
            p.Override("U0BOB0001", until=(date(2026, 12, 3), None, None)),
        ),
        (
            f"override {B} until 2026-12-03 18:30",
            p.Override("U0BOB0001", until=(date(2026, 12, 3), 18, 30)),
        ),
        (
            f"override {B} 2026-12-01..2026-12-03",
            p.Override("U0BOB0001", days=(date(2026, 12, 1), date(2026, 12, 3))),
        ),
        (f"swap {B}", p.Swap("U0BOB0001")),
        (f"swap {B} 2026-12-14", p.Swap("U0BOB0001", date(2026, 12, 14))),
    ],
)
def test_parses(text: str, expected: p.Args) -> None:
    """Each documented form parses into its dataclass."""
    assert p.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("dance", "Unknown subcommand"),
        ("overide", "Did you mean `override`?"),
        (f"override {B} 99999999999d", "at most 8 weeks"),
        ("schedule 0", "from 1 to 26"),
        ("schedule many", "from 1 to 26"),
        ("set", "needs the rotation"),
        ("set alice bob", "needs an @user"),
        (f"set {A} {A}", "twice"),
        (f"override {B}", "Say how long"),
        (f"override {B} 9w", "at most 8 weeks"),
        (f"override {B} soon", "Say how long"),
        (f"override {B} 2026-12-03..2026-12-01", "ends before it starts"),
        (f"override {B} until 2026-02-30", "not a date"),
        ("swap", "needs an @user"),
        (f"swap {B} tomorrow", "not a date"),
    ],
)
def test_rejects_with_usage(text: str, complaint: str) -> None:
    """Bad input is one line naming the problem, then that subcommand's usage line."""
    with pytest.raises(UserError) as caught:
        p.parse(text)
    usage = caught.value.usage or ""
    assert complaint in caught.value.message
    assert "\n" not in usage and "`/oncall help` lists every subcommand" in usage
    verb = text.split()[0]
    if verb in ("schedule", "set", "override", "swap"):
        assert usage.startswith(f"*Usage:* `/oncall {verb}")
