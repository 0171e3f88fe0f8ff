"""Incident channels through the serve stack with signed requests and the local Slack: made
for a P1 with its people, topic, bookmarks and pinned card; commands typed there mean that
incident; a name already taken is reused (after a crash, or archived), never doubled; a
thousand invitees; a channel Slack refuses; archived once quiet on a shifted clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.store import Entry
from bot.tools.localslack import (
    BOT_USER,
    SCOPES,
    LocalSlack,
    Message,
    reaction_event,
    signed_headers,
)
from tests.conftest import Clock
from tests.e2e.stack import ALICE, SECRET, Stack
from tests.helpers import HTTP

BOB, BOSS, CAROL = "U0BOB0001", "U0BOSS001", "U0CAROL01"
ROOM = "#inc-1-login-broken"
FAST = {"backoff_cap_seconds": 0.1, "slack_posts_per_second": 50, "slack_burst": 50}


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        for user, name in ((ALICE, "alice"), (BOB, "bob"), (BOSS, "boss"), (CAROL, "carol")):
            workspace.add_user(user, name)
        yield workspace


def make(tmp_path: Path, slack: LocalSlack, db: str | None = None, **incidents: Any) -> Stack:
    """`db`: the `database` fixture's (a test on both engines), else a SQLite file."""
    return Stack(
        slack,
        db or tmp_path / "opsbot.db",
        Clock(datetime.now(UTC)),
        outbox=FAST,
        oncall={"rotation": [BOB], "escalation": BOSS},
        incidents={"channel": "P0-P1", **incidents},
    )


def cards(slack: LocalSlack, channel: str = "#incidents") -> list[Message]:
    return [m for m in slack.history(channel) if not m.thread_ts]


@pytest.mark.both_engines
def test_a_p1_works_in_its_own_channel_and_commands_there_mean_it(
    tmp_path: Path, slack: LocalSlack, database: str
) -> None:
    stack = make(
        tmp_path, slack, database, bookmarks={"Runbook": "https://runbooks.example.com/login"}
    )
    try:
        assert "INC-1" in stack.command("open P1 Login broken").text
        stack.settle()
        room = slack.room(ROOM)
        cid = slack.channel_id(ROOM)
        # the people: who declared it (and leads it), on call, the escalation contact (P1)
        assert room.members == {BOT_USER, ALICE, BOB, BOSS}
        assert not room.private
        assert room.topic == "P1 · Investigating · Commander @alice"
        titles = [b["title"] for b in room.bookmarks]
        assert titles == ["INC-1 in #incidents", "Runbook"]
        [working] = cards(slack, ROOM)
        assert working.text.startswith("INC-1 P1") and room.pins == [working.ts]
        # the card in #incidents stays, and points at the channel
        [card] = cards(slack)
        assert f"<#{cid}>" in str(card.blocks)
        assert "#inc-1-login-broken" in str(stack.deps.store.incidents.timeline(1))
        # a second incident is open: typed in the channel, no INC-n is needed
        stack.command("open P2 Search slow")
        answer = stack.command("update Rolled back the auth deploy", channel=cid)
        assert "INC-1" in answer.text, answer.text
        stack.settle()
        assert "Rolled back the auth deploy" in [m.text for m in slack.history(ROOM)][-1]
        assert len(cards(slack)) == 2  # the P2 has no channel of its own
        assert [name for name in slack.channel_ids if name.startswith("#inc-")] == [ROOM]
        # a change of commander shows in the topic; a change it does not show sets nothing
        stack.command(f"lead <@{BOB}|bob>", channel=cid)
        stack.settle()
        assert slack.room(ROOM).topic == "P1 · Acknowledged · Commander @bob"
        topics = [c for c in slack.calls if c.method == "conversations.setTopic"]
        stack.command("update Still looking", channel=cid)
        stack.settle()
        assert [c for c in slack.calls if c.method == "conversations.setTopic"] == topics
    finally:
        stack.stop()


def test_an_archived_channel_of_the_same_name_is_passed_over_never_doubled(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """An older channel of that name is archived (Slack lets no bot unarchive it): the
    incident's channel is `-2`, made once however often the step is tried."""
    slack.post("#inc-1-login-broken", CAROL, "an old channel of that name")
    slack.archive("#inc-1-login-broken")
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        cid = slack.channel_id(ROOM + "-2")
        assert stack.deps.store.incidents.incident(1).room_id == cid  # type: ignore[union-attr]
        assert slack.channel_id(ROOM) in slack.archived and cid not in slack.archived
        assert sorted(n for n in slack.channel_ids if n.startswith("#inc-1")) == [
            ROOM,
            ROOM + "-2",
        ]
        assert len(cards(slack, ROOM + "-2")) == 1
        # the step tried again (a crash before it was recorded): the same channel, found
        with stack.deps.store.atomic():
            stack.deps.store.outbox.enqueue(
                "incident.room", "slack:#x", {"private": False}, incident=1
            )
        stack.deps.store.rooms.set_room(1, "", "", Entry(datetime.now(UTC), None, "post", "x"))
        stack.settle()
        assert stack.deps.store.incidents.incident(1).room_id == cid  # type: ignore[union-attr]
        assert len([n for n in slack.channel_ids if n.startswith("#inc-1")]) == 2
    finally:
        stack.stop()


@pytest.mark.both_engines
def test_a_crash_between_creating_the_channel_and_recording_it_leaves_one_channel(
    tmp_path: Path, slack: LocalSlack, database: str
) -> None:
    stack = make(tmp_path, slack, database)
    try:
        stack.deps.outbox.stop()  # delivered below, by hand
        stack.command("open P1 Login broken")
        [row] = [
            e for e in stack.deps.store.outbox.effects(("pending",)) if e.kind == "incident.room"
        ]
        # the earlier try: conversations.create reached Slack, then the process died
        assert stack.deps.slack.conversations_create(name="inc-1-login-broken")["ok"]
        stack.settle()
        assert stack.deps.store.outbox.effect(row.id).state == "done"  # type: ignore[union-attr]
        assert [n for n in slack.channel_ids if n.startswith("#inc-")] == [ROOM]
        assert stack.deps.store.incidents.incident(1).room_id == slack.channel_id(ROOM)  # type: ignore[union-attr]
        assert len(cards(slack, ROOM)) == 1
    finally:
        stack.stop()


def test_private_on_the_command_line_makes_a_private_channel(
    tmp_path: Path, slack: LocalSlack
) -> None:
    stack = make(tmp_path, slack)
    try:
        answer = stack.command("open P1 Login broken --private")
        assert "Login broken" in answer.text and "--private" not in answer.text
        stack.settle()
        assert slack.room(ROOM).private
        assert "Slack never makes a private channel public" in str(
            stack.deps.store.incidents.timeline(1)
        )
    finally:
        stack.stop()


def test_private_asked_at_declaration_holds_when_the_channel_comes_later(
    tmp_path: Path, slack: LocalSlack
) -> None:
    stack = make(tmp_path, slack)
    try:
        stack.command("open P2 Customer data exposed --private")
        stack.settle()
        assert not [n for n in slack.channel_ids if n.startswith("#inc-")]  # a P2: none yet
        stack.command("sev INC-1 P1")
        stack.settle()
        assert slack.room("#inc-1-customer-data-exposed").private
    finally:
        stack.stop()


def test_an_incident_resolved_before_its_channel_was_made_gets_none(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Slack held the rows up (a backlog) until after the resolution: no channel is made,
    and the resolution goes to the thread people followed."""
    stack = make(tmp_path, slack)
    try:
        stack.deps.outbox.stop()
        stack.command("open P1 Login broken")
        stack.command("resolve INC-1 Reverted the deploy")
        stack.settle()
        assert not [n for n in slack.channel_ids if n.startswith("#inc-")]
        thread = [m.text for m in slack.history("#incidents") if m.thread_ts]
        assert any("Reverted the deploy" in t for t in thread), thread
    finally:
        stack.stop()


def test_a_missing_scope_is_said_at_once_and_holds_up_nothing(tmp_path: Path) -> None:
    """An app not reinstalled after the upgrade: without channels:manage the incident stays
    in its thread, saying why, at once (not after an hour of retries ahead of its lines);
    without bookmarks:write the channel is made and works, without bookmarks."""
    for missing, expect_room in (("channels:manage", False), ("bookmarks:write", True)):
        scopes = tuple(s for s in SCOPES if s != missing)
        with LocalSlack(scopes=scopes) as slack:
            slack.add_user(ALICE, "alice")
            stack = make(tmp_path / missing.replace(":", "-"), slack)
            try:
                stack.command("open P1 Login broken")
                stack.settle()
                stack.command("update Auth pods restarted")
                stack.settle()
                made = ROOM in slack.channel_ids
                assert made == expect_room, missing
                where = ROOM if made else "#incidents"
                assert "Auth pods restarted" in str([m.text for m in slack.history(where)])
                if not made:
                    thread = str([m.text for m in slack.history("#incidents")])
                    assert "Slack said missing_scope (needs channels:manage)" in thread
                else:
                    assert slack.room(ROOM).bookmarks == []
                assert stack.deps.store.outbox.outbox_summary(datetime.now(UTC))["pending"] == 0
            finally:
                stack.stop()


def test_a_pin_in_the_channel_goes_on_the_timeline(tmp_path: Path, slack: LocalSlack) -> None:
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        said = slack.post(ROOM, CAROL, "Error rate back under 1 %")
        slack.react(said, ALICE, "pushpin")
        body = reaction_event(said, user=ALICE, name="pushpin", added=True)
        headers = {**signed_headers(body, SECRET), "Content-Type": "application/json"}
        assert HTTP.post(stack.url, content=body.encode(), headers=headers).status_code == 200
        stack.inbox.drain()
        pins = [e.text for e in stack.deps.store.incidents.timeline(1) if e.kind == "pin"]
        assert pins == ["Error rate back under 1 %"]
    finally:
        stack.stop()


def test_a_name_taken_by_a_channel_opsbot_cannot_see_leaves_it_in_its_thread(
    tmp_path: Path, slack: LocalSlack
) -> None:
    theirs = slack.room(ROOM)  # someone's private channel of that name, without the bot
    theirs.private, theirs.members = True, {CAROL}
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        thread = [m.text for m in slack.history("#incidents") if m.thread_ts]
        assert any("No channel for INC-1: Slack said name_taken" in t for t in thread), thread
        assert stack.deps.store.incidents.incident(1).room_id is None  # type: ignore[union-attr]
        assert slack.room(ROOM).members == {CAROL}
    finally:
        stack.stop()


def test_a_thousand_invitees_in_batches_one_gone_and_one_already_there(
    tmp_path: Path, slack: LocalSlack
) -> None:
    people = [f"U{n:08d}" for n in range(1000)]
    for user in people:
        slack.add_user(user, user.lower())
    slack.add_group("S0RESPOND", people)
    slack.deactivate(people[500])
    stack = make(tmp_path, slack, invite_groups={"P1": ["S0RESPOND"]})
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        members = slack.room(ROOM).members
        assert members == {BOT_USER, ALICE, BOB, BOSS, *people} - {people[500]}
        invites = [c for c in slack.calls if c.method == "conversations.invite"]
        assert max(len(c.body["users"].split(",")) for c in invites) <= 100
    finally:
        stack.stop()


def test_a_new_commander_or_a_raised_severity_brings_newcomers_only(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Invites follow the incident: a new commander is invited; raised to P0, its user group
    is; someone opsbot invited before who left is not pulled back in, unless they lead it."""
    slack.add_group("S0PZERO", [BOSS])
    stack = make(tmp_path, slack, invite_groups={"P0": ["S0PZERO"]})
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        cid = slack.channel_id(ROOM)
        assert slack.room(ROOM).members == {BOT_USER, ALICE, BOB, BOSS}
        slack.room(ROOM).members.discard(BOSS)  # the escalation contact left
        stack.command(f"lead <@{CAROL}|carol>", channel=cid)
        stack.settle()
        assert slack.room(ROOM).members == {BOT_USER, ALICE, BOB, CAROL}
        calls = len([c for c in slack.calls if c.method == "conversations.invite"])
        stack.command("update Still looking", channel=cid)  # no one new: no invite
        stack.settle()
        assert len([c for c in slack.calls if c.method == "conversations.invite"]) == calls
        slack.room(ROOM).members.discard(CAROL)  # the commander stepped out
        stack.command("sev P0", channel=cid)
        stack.settle()
        # BOSS is the P0 group, but was invited before and left: stays out; CAROL leads it
        assert slack.room(ROOM).members == {BOT_USER, ALICE, BOB, CAROL}
    finally:
        stack.stop()


def test_a_group_added_by_a_raised_severity_is_invited(tmp_path: Path, slack: LocalSlack) -> None:
    slack.add_group("S0PZERO", [CAROL])
    stack = make(tmp_path, slack, invite_groups={"P0": ["S0PZERO"]})
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        stack.command("sev INC-1 P0")
        stack.settle()
        assert CAROL in slack.room(ROOM).members
    finally:
        stack.stop()


def test_a_channel_slack_refuses_leaves_the_incident_working_in_its_thread(
    tmp_path: Path, slack: LocalSlack
) -> None:
    slack.fault(method="conversations.create", error="restricted_action")
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        stack.command("update Auth pods restarted")
        stack.settle()
        thread = [m.text for m in slack.history("#incidents") if m.thread_ts]
        assert any(
            "No channel for INC-1: Slack said" in t and "restricted_action" in t for t in thread
        )
        assert any("Auth pods restarted" in t for t in thread)
        assert not [n for n in slack.channel_ids if n.startswith("#inc-")]
        assert [c.method for c in slack.calls].count("conversations.invite") == 0
        incident = stack.deps.store.incidents.incident(1)
        assert incident is not None and incident.room_id is None
    finally:
        stack.stop()


def test_the_channel_is_archived_once_quiet_after_the_resolution(
    tmp_path: Path, slack: LocalSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quiet time 24 h: someone writes 20 h after the resolution, so at 24 h it stays and the
    timer is set for 24 h after that message; then it is archived, and the card says so."""
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        stack.command("resolve INC-1 Reverted the deploy")
        stack.settle()
        # the post-mortem draft is shared in the channel, and bookmarked there
        [draft] = [b for b in slack.room(ROOM).bookmarks if b["title"] == "Post-mortem draft"]
        assert draft["link"].endswith("/INC-1-postmortem.md")
        resolved = stack.clock()
        later = resolved + timedelta(hours=20)
        with monkeypatch.context() as patch:  # a person's message, 20 h on
            patch.setattr(slack, "_next_ts", lambda: f"{later.timestamp():.6f}")
            slack.post(ROOM, CAROL, "Post-mortem notes go here")
        stack.tick(hours=24, minutes=1)
        cid = slack.channel_id(ROOM)
        assert cid not in slack.archived
        again = stack.deps.store.incidents.timers(1)["room_archive"]
        assert abs((again - (later + timedelta(hours=24))).total_seconds()) < 1
        stack.tick(hours=21)
        assert cid in slack.archived
        assert "archived" in str(cards(slack)[0].blocks)
        assert "Channel archived" in str(stack.deps.store.incidents.timeline(1))
    finally:
        stack.stop()


def test_a_reply_in_a_thread_of_the_channel_keeps_it_open_too(
    tmp_path: Path, slack: LocalSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review goes on in a thread under opsbot's working card: that counts as people
    writing there, though the card itself is opsbot's."""
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        stack.command("resolve INC-1 Reverted the deploy")
        stack.settle()
        later = stack.clock() + timedelta(hours=20)
        working = slack.room(ROOM).pins[0]  # opsbot's working card
        with monkeypatch.context() as patch:
            patch.setattr(slack, "_next_ts", lambda: f"{later.timestamp():.6f}")
            slack.post(ROOM, CAROL, "Timeline looks right to me", thread_ts=working)
        stack.tick(hours=24, minutes=1)
        assert slack.channel_id(ROOM) not in slack.archived
        again = stack.deps.store.incidents.timers(1)["room_archive"]
        assert abs((again - (later + timedelta(hours=24))).total_seconds()) < 1
    finally:
        stack.stop()


@pytest.mark.both_engines
def test_reopened_after_its_channel_was_archived_it_gets_a_new_one(
    tmp_path: Path, slack: LocalSlack, database: str
) -> None:
    """Slack lets no bot unarchive a channel: reopening makes `-2`, with everyone invited
    again; reopened before the archive, it keeps its channel and the archive is called off."""
    stack = make(tmp_path, slack, database)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        stack.command("resolve INC-1 Reverted the deploy")
        stack.settle()
        stack.tick(hours=24, minutes=1)
        assert slack.channel_id(ROOM) in slack.archived
        answer = stack.command("reopen INC-1 Errors are back")
        assert "INC-1: reopened" in answer.text, answer.text
        stack.settle()
        incident = stack.deps.store.incidents.incident(1)
        assert incident is not None and incident.status == "investigating"
        assert incident.resolved_at is None and incident.room_name == "inc-1-login-broken-2"
        again = slack.room("#inc-1-login-broken-2")
        assert again.members == {BOT_USER, ALICE, BOB, BOSS}
        texts = [e.text for e in stack.deps.store.incidents.timeline(1)]
        assert "Reopened: Errors are back" in texts
        assert any("#inc-1-login-broken stays archived" in t for t in texts)
        steps = [
            b for b in cards(slack)[0].blocks if b.get("block_id", "").startswith("incident.steps")
        ]
        labels = [e["text"]["text"] for e in steps[0]["elements"]]
        assert "Resolve" in labels and "✓ Resolve" not in labels  # to be done again
        # resolved and reopened before the archive: the same channel, and no archive
        stack.command("resolve INC-1 Reverted again")
        stack.settle()
        stack.command("reopen INC-1")
        stack.settle()
        assert stack.deps.store.incidents.timers(1).get("room_archive") is None
        stack.tick(hours=25)
        assert slack.channel_id("#inc-1-login-broken-2") not in slack.archived
        assert "nothing to reopen" in stack.command("reopen INC-1").text
    finally:
        stack.stop()


def test_a_channel_archived_by_a_person_is_replaced_while_the_incident_is_open(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """Someone archives the war room by hand mid-incident: the next step that meets
    `is_archived` lets it go and a new channel is made, everyone invited again."""
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        slack.archive(ROOM)
        stack.command("status INC-1 mitigating")  # its card and topic follow: is_archived
        stack.settle()
        incident = stack.deps.store.incidents.incident(1)
        assert incident is not None and incident.room_name == "inc-1-login-broken-2"
        again = slack.room("#inc-1-login-broken-2")
        assert again.members == {BOT_USER, ALICE, BOB, BOSS}
        assert again.topic == "P1 · Mitigating · Commander @alice"
        said = [e.text for e in stack.deps.store.incidents.timeline(1)]
        assert "#inc-1-login-broken was archived in Slack; a new channel is made" in said
    finally:
        stack.stop()


def test_the_bookmark_follows_the_resolutions_draft_not_one_asked_for_on_the_way(
    tmp_path: Path, slack: LocalSlack
) -> None:
    stack = make(tmp_path, slack)
    try:
        stack.command("open P1 Login broken")
        stack.settle()
        stack.command("postmortem INC-1")  # a draft shown along the way: no bookmark
        stack.settle()
        assert "Post-mortem draft" not in [b["title"] for b in slack.room(ROOM).bookmarks]
        stack.command("resolve INC-1 Reverted")
        stack.settle()
        [first] = [dict(b) for b in slack.room(ROOM).bookmarks if b["title"] == "Post-mortem draft"]
        stack.command("reopen INC-1 Errors again")  # its channel is kept (not archived yet)
        stack.settle()
        shown = stack.command("postmortem INC-1").json()["text"]
        assert "Reverted" not in shown  # the draft of what is known now, not the stored one
        stack.command("resolve INC-1 Reverted the config too")
        stack.settle()
        [second] = [b for b in slack.room(ROOM).bookmarks if b["title"] == "Post-mortem draft"]
        assert second["id"] == first["id"] and second["link"] != first["link"]
    finally:
        stack.stop()
