"""Numbers too large for SQLite and dates at the ends of the calendar, through the serve stack."""

from __future__ import annotations

from tests.e2e.stack import Stack

BOB = "<@U0BOB0001|bob>"
HUGE = "99999999999999999999999"


CASES = [
    ("/incident", f"show INC-{HUGE}", "too large to be an incident id"),
    ("/incident", f"ack {HUGE}", "too large to be an incident id"),
    ("/incident", f"edit #{HUGE} Rolled back", "too large to be a timeline entry"),
    ("/incident", f"done A{HUGE}", "too large to be an action item"),
    ("/incident", "update at 0001-01-01 10:00 Deploy", "from 2000-01-01 to 2099-12-31"),
    ("/incident", f"action {BOB} Add an index due 9999-12-31", "out of range"),
    ("/oncall", f"override {BOB} 0001-01-01..9999-12-31", "from 2000-01-01 to 2099-12-31"),
    ("/oncall", f"override {BOB} 9999-12-30..9999-12-31", "out of range"),
    ("/oncall", f"override {BOB} until 9999-12-31 23:59", "out of range"),
    ("/oncall", f"override {BOB} 99999999d", "at most 8 weeks"),
    ("/oncall", f"swap {BOB} 0001-01-01", "out of range"),
    ("/alerts", f"unsilence S{HUGE}", "Name the silence"),
]


def test_extremes_get_the_usage_line_not_an_error(stack: Stack) -> None:
    """A huge id or an extreme date is answered with what is wrong and the usage line, and
    changes nothing; never "Something went wrong"."""
    for command, text, said in CASES:
        answer = stack.command(text, name=command).json()["text"]
        assert answer.startswith(":warning:") and said in answer, (text, answer)
        assert "*Usage:*" in answer, (text, answer)
    assert stack.deps.store.incidents.find(open_only=False) == []
    assert stack.deps.store.oncall.overrides(since=stack.clock()) == []
