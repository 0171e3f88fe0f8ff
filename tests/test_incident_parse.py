from datetime import date

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
        ("reopen INC-2  Errors   are back", p.Reopen(2, "Errors are back")),
        ("reopen INC-2", p.Reopen(2)),
        ("update INC-2 Rolled back", p.Update("Rolled back", 2)),
        ("update 3 users affected", p.Update("3 users affected")),
        ("sev INC-2 p1", p.Sev("P1", 2)),
        ("sev P0", p.Sev("P0")),
        ("status INC-2 Mitigating", p.Status("mitigating", 2)),
        ("lead INC-2 <@U0BOB0001|bob>", p.Role("commander", "U0BOB0001", 2)),
        ("lead <@U0BOB0001>", p.Role("commander", "U0BOB0001")),
        ("role INC-2 comms <@U0BOB0001|bob>", p.Role("comms", "U0BOB0001", 2)),
        ("role Commander <@U0BOB0001>", p.Role("commander", "U0BOB0001")),
        (
            "update INC-2 at 10:02 Deploy v1.4.2 went out",
            p.Update("Deploy v1.4.2 went out", 2, p.When(10, 2)),
        ),
        (
            "update at 2026-11-27 23:59 Alerts began",
            p.Update("Alerts began", None, p.When(23, 59, date(2026, 11, 27))),
        ),
        ("edit INC-2 #7 at 9:05", p.Edit(7, None, p.When(9, 5), 2)),
        ("edit #7 Rolled back v1.4.2", p.Edit(7, "Rolled back v1.4.2")),
        ("edit #7 at 9:05 Rolled back", p.Edit(7, "Rolled back", p.When(9, 5))),
        (
            "action INC-2 <@U0BOB0001|bob> Add an index on prompts.userId due 2026-12-05",
            p.Action("U0BOB0001", "Add an index on prompts.userId", "2026-12-05", 2),
        ),
        ("action <@U0BOB0001> Write the runbook", p.Action("U0BOB0001", "Write the runbook")),
        ("actions", p.Actions()),
        ("done INC-2 a3", p.Done(3, 2)),
        ("comms INC-2", p.Comms(2)),
        ("status identified", p.Status("identified")),
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
        ("update at 25:00 late", "not a real time"),
        ("update at noon lunch", "`at HH:MM`"),
        ("update INC-2 at 10:02", "needs text"),
        ("edit INC-2 7 at 10:02", "Name the entry"),
        ("edit #7", "new time"),
        ("role INC-2 scribe <@U1>", "`commander` or `comms`"),
        ("action INC-2 bob fix it", "starts with its owner: `/incident action INC-3 @bob Add"),
        ("action <@U0BOB0001> fix due someday", "`due someday` is not a date I understand"),
        ("resolve INC-2 INC-3", "`INC-3` is a second id"),
        ("status INC-4 resolved", "use `/incident resolve INC-4 [summary]`"),
        ("action <@U0BOB0001> due 2026-12-05", "needs text"),
        ("action <@U0BOB0001> fix due 2026-13-45", "not a date"),
        ("done INC-2 3", "Name the action item"),
        ("show INC-2 extra", "takes only an incident id"),
        ("show INC-99999999999999999999999", "too large to be an incident id"),
        ("edit #99999999999999999999 x", "too large to be a timeline entry"),
        ("done A99999999999999999999", "too large to be an action item"),
        ("update at 1999-12-31 23:00 x", "opsbot takes dates from 2000-01-01 to 2099-12-31"),
        ("action <@U0BOB0001> fix due 2100-01-01", "out of range"),
    ],
)
def test_rejects_with_usage(text: str, complaint: str) -> None:
    """Bad input says in one line what is wrong, then the one usage line of that subcommand
    and where the rest is: never the whole 13-line help."""
    with pytest.raises(UserError) as caught:
        p.parse(text, SEVERITIES)
    assert complaint in caught.value.message
    assert "\n" not in caught.value.message
    usage = caught.value.usage or ""
    assert usage.count("\n") == 0 and "`/incident help`" in usage
    verb = text.split()[0]
    if verb != "frobnicate":
        assert f"`/incident {p.ALIASES.get(verb, verb)}" in usage


def test_a_typo_gets_the_nearest_subcommand() -> None:
    for typo, meant in (("opne", "open"), ("reslove", "resolve"), ("timelin", "timeline")):
        with pytest.raises(UserError) as caught:
            p.parse(f"{typo} INC-1 x", SEVERITIES)
        assert f"Did you mean `{meant}`?" in caught.value.message


@pytest.mark.parametrize(
    ("word", "due"),
    [
        ("2026-12-05", "2026-12-05"),
        ("tomorrow", "2026-11-27"),  # today is Thursday 2026-11-26
        ("friday", "2026-11-27"),
        ("Thu", "2026-12-03"),  # a weekday is the next one, never today
        ("monday", "2026-11-30"),
        ("+3d", "2026-11-29"),
    ],
)
def test_action_due_dates_people_type(word: str, due: str) -> None:
    parsed = p.parse(f"action <@U0BOB0001> Add an index due {word}", SEVERITIES, date(2026, 11, 26))
    assert parsed == p.Action("U0BOB0001", "Add an index", due)


def test_severities_come_from_config() -> None:
    """A team that configures its own levels can use them, in the forms people write."""
    assert p.parse("open SEV1 Down", ("SEV1",)) == p.Open("Down", "SEV1")
    assert p.parse("open Down sev 1", ("SEV1",)) == p.Open("Down", "SEV1")
    assert p.parse("open P9 Down", ("P9",)) == p.Open("Down", "P9")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("open Login broken P1", p.Open("Login broken", "P1")),
        ("open sev1 Checkout down", p.Open("Checkout down", "P1")),
        ("open SEV-1 Checkout down", p.Open("Checkout down", "P1")),
        ("open sev 1 Checkout down", p.Open("Checkout down", "P1")),
        ("open Checkout down sev 0", p.Open("Checkout down", "P0")),
        ("open Checkout down (p0)", p.Open("Checkout down", "P0")),
        ("open P1: Login broken", p.Open("Login broken", "P1")),
        ("open Severity 2 Avatars fail", p.Open("Avatars fail", "P2")),
        ("open P1 Login broken for P1 customers", p.Open("Login broken for P1 customers", "P1")),
        ('open P2 "Upgrade to the P1 plan fails"', p.Open("Upgrade to the P1 plan fails", "P2")),
        ('open "Upgrade to the P1 plan fails" sev3', p.Open("Upgrade to the P1 plan fails", "P3")),
        ("open \u201cLogin broken P1\u201d", p.Open("Login broken P1")),
        ("open 500 errors on /api", p.Open("500 errors on /api")),
        ("open Login broken severe", p.Open("Login broken severe")),
        ("sev INC-2 sev 1", p.Sev("P1", 2)),
        ("sev SEV-0", p.Sev("P0")),
        ("list sev 1", p.List(severity="P1")),
        ("list all SEV-0 page 2", p.List(True, "P0", 2)),
    ],
)
def test_severity_is_found_in_the_forms_people_write(text: str, expected: p.Args) -> None:
    """A severity first or last, written P1, p1, sev1, SEV-1 or sev 1, is the severity."""
    assert p.parse(text, SEVERITIES) == expected


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("open P1 Login broken P2", "`P1` and `P2` are different severities: which one?"),
        ("open sev1 Checkout down p0", "`/incident open P0 Checkout down` or"),
        ("open Login broken for P1 customers", "Is `P1` the severity, or part of the title?"),
        ("open Checkout sev 0 down", '`/incident open "Checkout sev 0 down"` keeps it'),
        ("open Login broken P7", "Unknown severity `P7`"),
        ("open sev 9 Login broken", "Unknown severity `sev 9`"),
        ('open P1 "Login broken" now', "one severity and nothing else"),
        ('open P1 "Login broken" P2', "one severity and nothing else"),
        ("sev INC-2 P1 P2", "`sev` takes one severity"),
    ],
)
def test_a_line_that_could_mean_two_things_is_asked_about(text: str, question: str) -> None:
    """Two severities, or one inside the title, open nothing: the answer asks which was meant."""
    with pytest.raises(UserError) as caught:
        p.parse(text, SEVERITIES)
    assert question in caught.value.message
    assert "\n" not in caught.value.message
