"""On-call calendar feeds through the serve stack: `/oncall calendar` gives a person their
feed's address and the team's; GET /oncall/<token>.ics answers iCalendar, parsed back here
with the library and checked against `/oncall schedule`'s shifts across the change to
summer time; `/oncall calendar new` makes the old address answer 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.domain import oncall
from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.stack import ALICE, Stack
from tests.helpers import HTTP

BOB = "U0BOB0001"
BERLIN = ZoneInfo("Europe/Berlin")
PUBLIC = "https://opsbot.example.com"
# Europe/Berlin moves to summer time on Sunday 2027-03-28; the team hands over on Mondays.
NOW = datetime(2027, 3, 17, 12, 0, tzinfo=BERLIN)


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        workspace.add_user(ALICE, "alice")
        workspace.add_user(BOB, "bob")
        yield workspace


def make(slack: LocalSlack, tmp_path: Path, **config: object) -> Stack:
    return Stack(
        slack,
        tmp_path / "opsbot.db",
        Clock(NOW.astimezone(UTC)),
        timezone="Europe/Berlin",
        **config,
    )


def addresses(answer: str) -> list[str]:
    """The feed addresses in `/oncall calendar`'s answer, as a local path."""
    return [u.removeprefix(PUBLIC) for u in re.findall(rf"{PUBLIC}/oncall/\S+\.ics", answer)]


def fetch(stack: Stack, path: str) -> Calendar:
    answer = HTTP.get(stack.url.removesuffix("/slack/events") + path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    assert "U0ALICE01" not in answer.text and "U0BOB0001" not in answer.text  # names only
    return Calendar.from_ical(answer.content)


def test_the_feeds_follow_the_schedule_across_summer_time(
    slack: LocalSlack, tmp_path: Path
) -> None:
    stack = make(slack, tmp_path, opsbot_public_url=PUBLIC + "/")
    try:
        stack.oncall(f"set <@{ALICE}|alice> <@{BOB}|bob>")
        said = stack.oncall("calendar").json()
        assert said["response_type"] == "ephemeral"  # only the person sees the addresses
        mine, team = addresses(said["text"])
        feed = fetch(stack, team)
        events = feed.walk("VEVENT")
        assert [str(e["summary"]) for e in events[:3]] == [
            "On call: alice",
            "On call: bob",
            "On call: alice",
        ]
        # every handover at 09:00 Berlin time, in winter and in summer
        starts = [e.decoded("dtstart") for e in events]
        assert {s.astimezone(BERLIN).strftime("%a %H:%M") for s in starts} == {"Mon 09:00"}
        assert {s.utcoffset() for s in starts} == {timedelta(hours=1), timedelta(hours=2)}
        assert feed.walk("VTIMEZONE")[0]["tzid"] == "Europe/Berlin"
        # the same shifts as /oncall schedule, twelve weeks ahead
        shifts = oncall.upcoming(stack.deps.store, stack.deps.settings, stack.clock(), 12)
        got = [(e.decoded("dtstart"), e.decoded("dtend")) for e in events]
        assert got[1:] == [(s.start, s.end) for s in shifts][1:]
        assert got[0][0] <= stack.clock() < got[0][1]  # from the shift running now
        # alice's own feed: only her shifts
        own = fetch(stack, mine).walk("VEVENT")
        assert own and {str(e["summary"]) for e in own} == {"On call: alice"}
    finally:
        stack.stop()


def test_an_override_shows_and_a_new_address_retires_the_old(
    slack: LocalSlack, tmp_path: Path
) -> None:
    stack = make(slack, tmp_path, opsbot_public_url=PUBLIC)
    try:
        stack.oncall(f"set <@{ALICE}|alice> <@{BOB}|bob>")
        mine, team = addresses(stack.oncall("calendar").json()["text"])
        stack.oncall(f"override <@{BOB}|bob> 12h")
        summaries = [str(e["summary"]) for e in fetch(stack, team).walk("VEVENT")]
        assert summaries[0] == "On call: bob (override)"
        replaced = stack.oncall("calendar new").json()["text"]
        assert "no longer works" in replaced
        new_mine, same_team = addresses(replaced)
        assert new_mine != mine and same_team == team
        base = stack.url.removesuffix("/slack/events")
        assert HTTP.get(base + mine).status_code == 404
        fetch(stack, new_mine)
        assert HTTP.get(base + "/oncall/nonsense.ics").status_code == 404
        assert HTTP.get(base + mine.removesuffix(".ics")).status_code == 404
    finally:
        stack.stop()


def test_without_a_public_address_it_says_what_to_set(slack: LocalSlack, tmp_path: Path) -> None:
    stack = make(slack, tmp_path)
    try:
        answer = stack.oncall("calendar").json()["text"]
        assert "OPSBOT_PUBLIC_URL" in answer
        assert "calendar" in stack.oncall("calendar soon").json()["text"]  # one line of usage
    finally:
        stack.stop()


def test_a_token_that_lost_a_race_opens_nothing(slack: LocalSlack, tmp_path: Path) -> None:
    """Two first asks at once each made a team token; only the one kept opens the feed."""
    from bot.domain.oncall import calendar

    stack = make(slack, tmp_path, opsbot_public_url=PUBLIC)
    try:
        store = stack.deps.store
        kept = calendar.token(store, calendar.TEAM)
        lost = "a-token-made-by-the-other-request"
        store.set_state(f"calendar.feed.{calendar._digest(lost)}", '{"whose": ""}')
        assert calendar.whose(store, kept) == calendar.TEAM
        assert calendar.whose(store, lost) is None
    finally:
        stack.stop()


def test_someone_named_before_time_zones_were_kept_is_asked_again(
    slack: LocalSlack, tmp_path: Path
) -> None:
    from bot import people

    stack = make(slack, tmp_path)
    try:
        before = stack.clock() - timedelta(days=2)  # named before the upgrade: no zone
        stack.deps.store.people.save_name(BOB, "bob", before)
        people.learn(stack.deps, [BOB])
        assert stack.deps.store.people.zones([BOB]) == {BOB: "Europe/London"}
    finally:
        stack.stop()
