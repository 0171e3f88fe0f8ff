"""Subcommands end to end below the Slack edge: parse -> execute -> store, on a fixed clock."""

from datetime import timedelta

import pytest

from bot.replies import UserError
from commands.incident import parse as p
from commands.incident.handlers import execute
from tests.conftest import T0

SEVERITIES = ("P0", "P1", "P2", "P3")
ALICE, BOB = "U0ALICE01", "U0BOB0001"


def run(deps, text: str, actor: str = ALICE):  # type: ignore[no-untyped-def]
    return execute(p.parse(text, SEVERITIES), deps, actor=actor)


def test_backdated_note_lands_at_its_time(deps, clock) -> None:
    """`update at HH:MM` records what happened then, as a note, not a status update."""
    run(deps, "open P1 Login broken")
    clock.advance(minutes=30)
    run(deps, "update at 09:52 Deploy v1.4.2 went out")
    note = next(e for e in deps.store.incidents.timeline(1) if e.kind == "note")
    assert note.at == T0 - timedelta(minutes=8)
    assert deps.store.incidents.timeline(1)[0] == note  # it sorts before the opening
    with pytest.raises(UserError, match="in the future"):
        run(deps, f"update at {T0.year}-12-31 23:59 Later")


def test_edit_keeps_the_old_version(deps, clock) -> None:
    """Editing an entry changes it and records who changed what, from what."""
    run(deps, "open P1 Login broken")
    run(deps, "update Rolled back")
    entry = next(e for e in deps.store.incidents.timeline(1) if e.kind == "update")
    clock.advance(minutes=5)
    run(deps, f"edit #{entry.seq} at 09:58 Rolled back to v1.4.1", actor=BOB)
    edited = next(e for e in deps.store.incidents.timeline(1) if e.id == entry.id)
    assert (edited.text, edited.at) == ("Rolled back to v1.4.1", T0 - timedelta(minutes=2))
    [audit] = deps.store.incidents.edits(entry.id)
    assert audit.editor == BOB and audit.old_text == "Rolled back"
    assert audit.new_text == "Rolled back to v1.4.1"
    with pytest.raises(UserError, match="no timeline entry #999"):
        run(deps, "edit #999 nope")


def test_an_edit_cannot_move_an_entry_to_long_before_the_incident(deps, clock) -> None:
    """An entry moved a day or more before the incident opened is refused, as a note is."""
    run(deps, "open P1 Login broken")
    with pytest.raises(UserError, match="long before INC-1 was opened"):
        run(deps, "edit #1 at 2000-01-01 00:30 Deploy")
    assert deps.store.incidents.timeline(1)[0].edited_at is None


def test_action_items_are_added_listed_and_done(deps, clock) -> None:
    """Action items carry owner and due date, show in the list, and close once."""
    run(deps, "open P1 Login broken")
    run(deps, "action <@U0BOB0001|bob> Add a login canary due 2026-12-05")
    [item] = deps.store.followups.actions(1)
    assert (item.owner, item.text, item.due) == (BOB, "Add a login canary", "2026-12-05")
    listing = run(deps, "actions").reply
    assert "A1* Add a login canary" in str(listing.blocks) and "Remind owners" in str(
        listing.blocks
    )
    run(deps, "done A1")
    assert deps.store.followups.actions(1)[0].done_at == clock()
    with pytest.raises(UserError, match="no open action item A1"):
        run(deps, "done A1")


def test_comms_drafts_follow_the_incident(deps, clock) -> None:
    """Ongoing incidents get the investigating notice; resolved ones the plan's template."""
    run(deps, "open P1 Login broken")
    ongoing = str(run(deps, "comms").reply.blocks)
    assert "[INVESTIGATING] Service Disruption" in ongoing and "Next update: by 10:30" in ongoing
    run(deps, "resolve INC-1 Reverted v1.4.2")
    resolved = str(run(deps, "comms INC-1").reply.blocks)
    assert "[RESOLVED] Service Disruption" in resolved and "Reverted v1.4.2" in resolved


def test_roles_are_claimed_and_recorded(deps) -> None:
    """Commander and communications lead change hands with a timeline entry each."""
    run(deps, "open P1 Login broken")
    run(deps, "role comms <@U0BOB0001|bob>")
    run(deps, "lead <@U0BOB0001|bob>")
    incident = deps.store.incidents.incident(1)
    assert (incident.commander, incident.comms_lead) == (BOB, BOB)
    assert [e.kind for e in deps.store.incidents.timeline(1)].count("role") == 2


@pytest.mark.parametrize(
    "text",
    [
        "update INC-1 More news",
        "update INC-1 at 09:50 Earlier",
        "edit INC-1 #1 Changed",
        "public INC-1 All good",
        "public-title INC-1 Login",
        "status INC-1 monitoring",
        "sev INC-1 P0",
        "lead INC-1 <@U0BOB0001>",
        "role INC-1 comms <@U0BOB0001>",
        "ack INC-1",
        "resolve INC-1 again",
    ],
)
def test_a_resolved_incident_refuses_all_but_post_mortem_work(deps, clock, text: str) -> None:
    run(deps, "open P1 Login broken")
    run(deps, "resolve INC-1 Reverted")
    before = (deps.store.incidents.timeline(1), deps.store.incidents.incident(1))
    with pytest.raises(UserError, match="only post-mortem work"):
        run(deps, text)
    assert (deps.store.incidents.timeline(1), deps.store.incidents.incident(1)) == before


def test_post_mortem_work_after_resolution_keeps_the_stored_draft_in_step(deps, clock) -> None:
    run(deps, "open P1 Login broken")
    run(deps, "resolve INC-1 Reverted")
    clock.advance(hours=20)
    run(deps, "action INC-1 <@U0BOB0001> Add a login canary due +3d")
    assert "- [ ] A1 Add a login canary" in deps.store.followups.postmortem(1).markdown
    run(deps, "done INC-1 A1")
    assert deps.store.followups.actions(1)[0].done_at == clock()
    assert "- [x] A1 Add a login canary" in deps.store.followups.postmortem(1).markdown


def test_timeline_entries_are_numbered_per_incident(deps, clock) -> None:
    """INC-2's entries start at #1 whatever INC-1 has; `edit INC-2 #2` is INC-2's second."""
    run(deps, "open P1 Login broken")
    for n in range(5):
        run(deps, f"update INC-1 Step {n}")
    run(deps, "open P2 Search slow")
    run(deps, "update INC-2 Reindexing")  # acknowledges it too: #2, then the update #3
    assert [e.seq for e in deps.store.incidents.timeline(2)] == [1, 2, 3]
    run(deps, "edit INC-2 #3 Reindexing the catalogue")
    assert deps.store.incidents.timeline(2)[2].text == "Reindexing the catalogue"
    assert "#3 " in str(run(deps, "timeline INC-2").reply.blocks)
    with pytest.raises(UserError, match="INC-2 has no timeline entry #4"):
        run(deps, "edit INC-2 #4 nope")


def test_a_long_list_says_how_many_and_shows_the_most_severe_first(deps, clock) -> None:
    """58 open incidents: page 1 starts with the one P1, says how many there are and how to
    see the rest; `list P1` narrows; a 3,500-character title is cut in lists."""
    from bot.store import Change, Entry, Incident

    for n in range(58):
        severity = "P1" if n == 40 else "P3"
        title = ("x" * 3500) if n == 3 else f"Incident {n}"
        draft = Incident(0, title, severity, "open", ALICE, ALICE, clock())
        deps.store.incidents.open_incident(
            draft, Change(entries=(Entry(clock(), ALICE, "opened", "O"),))
        )
    first = run(deps, "list").reply
    shown = str(first.blocks)
    assert first.text == "58 open incidents (showing 1–20)"
    assert "*INC-41* P1" in str(first.blocks[1])  # the P1 heads the list
    assert "…and 38 more: `/incident list page 2` · one severity: `/incident list P1`" in shown
    assert "x" * 81 not in shown and len(shown) < 6000
    last = run(deps, "list page 3").reply
    assert last.text == "58 open incidents (showing 41–58)" and "more:" not in str(last.blocks)
    assert run(deps, "list P1").reply.text == "1 open incident at P1"
    assert run(deps, "list page 9").reply.text == "No open incidents on page 9."


def test_home_and_digest_cut_long_titles_and_say_how_many_more(deps, clock) -> None:
    from bot.store import Change, Entry, Incident
    from commands.digest.sections import incidents as digest_incidents

    for _ in range(12):
        draft = Incident(0, "y" * 3500, "P2", "open", ALICE, ALICE, clock())
        deps.store.incidents.open_incident(
            draft, Change(entries=(Entry(clock(), ALICE, "opened", "O"),))
        )
    section = digest_incidents(deps, clock())
    assert "y" * 61 not in section.text and "…and 2 more: `/incident list`" in section.text
    assert len(section.text) < 1500


def test_an_edit_or_an_action_item_acknowledges_too(deps, clock) -> None:
    """Work recorded outside the incident's own change still acknowledges it, once."""
    run(deps, "open P1 Login broken")
    run(deps, "open P1 Search slow")
    clock.advance(minutes=70)
    run(deps, "edit INC-1 #1 Login broken for everyone", actor=BOB)
    run(deps, "action INC-2 <@U0BOB0001|bob> Add a canary", actor=BOB)
    run(deps, "action INC-2 <@U0BOB0001|bob> Add a second canary", actor=ALICE)
    for number in (1, 2):
        assert deps.store.incidents.incident(number).acked_by == BOB
        acks = [e.text for e in deps.store.incidents.timeline(number) if e.kind == "acknowledge"]
        assert len(acks) == 1 and acks[0].endswith("after 1 h 10 min (P1 target 1 h: missed)")


def test_a_lower_severity_later_does_not_rewrite_a_missed_target(deps, clock) -> None:
    """A P0 acknowledged after 16 min stays "missed" at P0 after `sev P3`, and the card, `show`,
    the timeline and the post-mortem say the severity changed since."""
    run(deps, "open P0 Checkout down")
    clock.advance(minutes=16)
    run(deps, "ack")
    run(deps, "sev P3")
    [sev] = [e.text for e in deps.store.incidents.timeline(1) if e.kind == "severity"]
    assert sev == (
        "Severity: P0 → P3 (Low); the response target stays judged at P0 (15 min: missed)"
    )
    shown = str(run(deps, "show").reply.blocks)
    assert "15 min as P0 · acked" in shown and "after 16 min (:x: missed)" in shown
    assert "severity since changed to P3" in shown
    run(deps, "resolve Rolled back")
    markdown = deps.store.followups.postmortem(1).markdown
    assert (
        "- Time to acknowledge: 16 min against the P0 response target of 15 min (missed; the "
        "severity was P0 then, changed to P3 since)"
    ) in markdown


def test_a_target_missed_unacknowledged_stays_missed_at_its_severity(deps, clock) -> None:
    """A P0 breached, then lowered to P3 and acknowledged, is judged "missed" at P0, not "met"
    against P3's 24 h; one acknowledged in time stays "met" when raised afterwards."""
    from bot.domain.incidents import alarms, targets

    run(deps, "open P0 Checkout down")
    run(deps, "open P2 Search slow")
    clock.advance(minutes=20)
    alarms.breach(deps.store, deps.settings, 1, now=clock())
    run(deps, "sev INC-1 P3")
    run(deps, "ack INC-1")
    run(deps, "ack INC-2")
    run(deps, "sev INC-2 P0")
    ack = [e.text for e in deps.store.incidents.timeline(1) if e.kind == "acknowledge"]
    assert ack == ["Acknowledged after 20 min (P0 target 15 min: missed)"]
    first, second = deps.store.incidents.incident(1), deps.store.incidents.incident(2)
    assert targets.target_met(first, deps.settings) is False
    assert (first.target_severity, first.target_minutes) == ("P0", 15)
    assert targets.target_met(second, deps.settings) is True
    assert "4 h as P2 · acked" in str(run(deps, "show INC-2").reply.blocks)
