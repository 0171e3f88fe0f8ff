import threading
from datetime import timedelta

import pytest

from bot.config import Settings
from bot.domain.incidents import service, steps, targets
from bot.replies import UserError
from bot.store import Store
from tests.conftest import Clock

ALICE, BOB = "U0ALICE01", "U0BOB0001"


def open_p1(store: Store, settings: Settings, clock: Clock, title: str = "Login broken"):
    return service.open_incident(
        store, settings, title=title, severity="P1", actor=ALICE, now=clock()
    )


@pytest.mark.both_engines
def test_open_numbers_incidents_and_records_the_opening(store, settings, clock) -> None:
    """Incidents get INC-1, INC-2 ... and their first timeline entry says how they opened."""
    first = open_p1(store, settings, clock)
    second = service.open_incident(
        store, settings, title="Search slow", severity=None, actor=BOB, now=clock()
    )
    assert (first.ref, second.ref) == ("INC-1", "INC-2")
    assert second.severity == "P2"  # the plan's default
    assert first.status == "open" and first.commander == ALICE
    [entry] = store.incidents.timeline(1)
    assert (entry.kind, entry.actor, entry.text) == (
        "opened",
        ALICE,
        "Opened as P1 (High): Login broken",
    )


def test_ack_within_target_is_met(store, settings, clock) -> None:
    """Acknowledging inside the response target records who, when, and that it was met."""
    incident = open_p1(store, settings, clock)
    clock.advance(minutes=7)
    changed = service.acknowledge(store, settings, incident.number, actor=BOB, now=clock())
    assert changed.incident.acked_by == BOB
    assert changed.incident.acked_at == clock()
    assert targets.target_met(changed.incident, settings) is True
    assert changed.entries[0].text == "Acknowledged after 7 min (P1 target 1 h: met)"


@pytest.mark.both_engines
def test_ack_after_target_is_missed(store, settings, clock) -> None:
    """A P0 acknowledged after 16 minutes missed its 15-minute target."""
    incident = service.open_incident(
        store, settings, title="Down", severity="P0", actor=ALICE, now=clock()
    )
    clock.advance(minutes=16)
    changed = service.acknowledge(store, settings, incident.number, actor=BOB, now=clock())
    assert targets.target_met(changed.incident, settings) is False
    assert "target 15 min: missed" in changed.entries[0].text


def test_response_targets_follow_config(store, clock) -> None:
    """The deadline comes from the configured severity, not from code."""
    settings = Settings(
        severities={"P1": {"label": "High", "description": "x", "response_minutes": 5}},
        default_severity="P1",
    )
    incident = open_p1(store, settings, clock)
    assert targets.ack_deadline(incident, settings) - incident.opened_at == targets.response_target(
        incident, settings
    )
    assert targets.response_target(incident, settings).total_seconds() == 300


def test_second_ack_is_refused_and_changes_nothing(store, settings, clock) -> None:
    """Acknowledging twice is an error; the first acknowledgement stands."""
    incident = open_p1(store, settings, clock)
    service.acknowledge(store, settings, incident.number, actor=BOB, now=clock())
    before = store.incidents.timeline(incident.number)
    with pytest.raises(UserError, match="already acknowledged"):
        service.acknowledge(store, settings, incident.number, actor=ALICE, now=clock())
    assert store.incidents.incident(incident.number).acked_by == BOB
    assert store.incidents.timeline(incident.number) == before


@pytest.mark.both_engines
def test_concurrent_acks_make_one_acknowledgement(store, settings, clock) -> None:
    """Two people pressing Acknowledge at once: one wins, one is told, one entry."""
    incident = open_p1(store, settings, clock)
    outcomes: list[str] = []

    def press(user: str) -> None:
        try:
            service.acknowledge(store, settings, incident.number, actor=user, now=clock())
            outcomes.append("ok")
        except UserError:
            outcomes.append("refused")

    threads = [threading.Thread(target=press, args=(u,)) for u in (ALICE, BOB) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7
    kinds = [e.kind for e in store.incidents.timeline(incident.number)]
    assert kinds.count("acknowledge") == 1


def test_nothing_changes_after_resolve(store, settings, clock) -> None:
    """Ack, status, severity and lead after resolve are refused and leave no trace."""
    incident = open_p1(store, settings, clock)
    service.resolve(store, settings, incident.number, actor=ALICE, summary="fixed", now=clock())
    before = store.incidents.timeline(incident.number)
    for attempt in (
        lambda: service.acknowledge(store, settings, 1, actor=BOB, now=clock()),
        lambda: service.set_status(store, settings, 1, "mitigating", actor=BOB, now=clock()),
        lambda: service.set_severity(store, settings, 1, "P0", actor=BOB, now=clock()),
        lambda: service.set_role(store, settings, 1, "commander", BOB, actor=BOB, now=clock()),
        lambda: service.resolve(store, settings, 1, actor=BOB, summary=None, now=clock()),
    ):
        with pytest.raises(UserError, match="resolved"):
            attempt()
    assert store.incidents.timeline(incident.number) == before


def test_working_an_unacked_incident_acknowledges_it(store, settings, clock) -> None:
    """Moving to investigating before anyone acked records the acknowledgement too."""
    incident = open_p1(store, settings, clock)
    clock.advance(minutes=3)
    changed = service.set_status(
        store, settings, incident.number, "investigating", actor=BOB, now=clock()
    )
    assert changed.incident.status == "investigating"
    assert changed.incident.acked_by == BOB
    assert [e.kind for e in changed.entries] == ["acknowledge", "investigate"]


def test_mitigation_time_is_the_move_to_monitoring_that_held(store, settings, clock) -> None:
    """Monitoring marks the mitigation time; back to investigating clears it (the fix did not
    hold), so the post-mortem shows when the mitigation that lasted came."""
    open_p1(store, settings, clock)
    clock.advance(minutes=10)
    service.set_status(store, settings, 1, "monitoring", actor=BOB, now=clock())
    assert store.incidents.incident(1).mitigated_at == clock()
    clock.advance(minutes=5)
    service.set_status(store, settings, 1, "investigating", actor=BOB, now=clock())
    assert store.incidents.incident(1).mitigated_at is None
    assert steps.steps_done(store.incidents.timeline(1))["Mitigate"] is None
    clock.advance(minutes=5)
    service.set_status(store, settings, 1, "monitoring", actor=BOB, now=clock())
    clock.advance(minutes=5)
    service.set_status(store, settings, 1, "mitigating", actor=BOB, now=clock())
    assert store.incidents.incident(1).mitigated_at == clock() - timedelta(minutes=5)


def test_status_lifecycle_is_enforced(store, settings, clock) -> None:
    """Statuses move forward through the steps, or back when a fix did not hold; never sideways
    into nonsense, and each move says old -> new."""
    open_p1(store, settings, clock)
    moves = ["investigating", "identified", "mitigating", "monitoring", "investigating"]
    texts = [
        service.set_status(store, settings, 1, s, actor=BOB, now=clock()).entries[-1].text
        for s in moves
    ]
    assert texts[1] == "Status: investigating → identified"
    assert texts[-1] == "Status: monitoring → investigating"
    service.set_status(store, settings, 1, "mitigating", actor=BOB, now=clock())
    with pytest.raises(UserError, match="from there it can go to investigating or monitoring"):
        service.set_status(store, settings, 1, "identified", actor=BOB, now=clock())


def test_resolve_records_duration_and_summary(store, settings, clock) -> None:
    """Resolving stores who, when and the summary, and says how long it took."""
    open_p1(store, settings, clock)
    clock.advance(hours=1, minutes=12)
    changed = service.resolve(store, settings, 1, actor=BOB, summary="Reverted v1.4.2", now=clock())
    assert changed.incident.status == "resolved"
    assert changed.incident.resolved_by == BOB
    assert changed.incident.summary == "Reverted v1.4.2"
    assert changed.entries[-1].text == "Resolved after 1 h 12 min: Reverted v1.4.2"


def test_severity_and_lead_changes_say_old_and_new(store, settings, clock) -> None:
    """Field changes are timeline entries naming the old and new value."""
    open_p1(store, settings, clock)
    sev = service.set_severity(store, settings, 1, "P0", actor=BOB, now=clock())
    lead = service.set_role(store, settings, 1, "commander", BOB, actor=BOB, now=clock())
    assert sev.entries[0].text == "Severity: P1 → P0 (Critical)"
    assert lead.entries[-1].text == f"Commander: <@{ALICE}> → <@{BOB}>"
    comms = service.set_role(store, settings, 1, "comms", ALICE, actor=BOB, now=clock())
    assert comms.incident.comms_lead == ALICE
    assert comms.entries[0].text == f"Communications lead: nobody → <@{ALICE}>"
    with pytest.raises(UserError, match="already P0"):
        service.set_severity(store, settings, 1, "P0", actor=BOB, now=clock())


@pytest.mark.both_engines
def test_find_incident_by_id_or_the_only_open_one(store, settings, clock) -> None:
    """No id means the one open incident; none or several open means asking."""
    with pytest.raises(UserError, match="No incident is open"):
        service.find_incident(store, None)
    open_p1(store, settings, clock)
    assert service.find_incident(store, None).number == 1
    open_p1(store, settings, clock, "Search slow")
    with pytest.raises(UserError, match="Which incident\\? Open now: INC-1, INC-2"):
        service.find_incident(store, None)
    assert service.find_incident(store, 2).title == "Search slow"
    with pytest.raises(UserError, match="no incident INC-9"):
        service.find_incident(store, 9)


def test_steps_done_follow_the_timeline(store, settings, clock) -> None:
    """Each response step is done by the first entry of its kind; an internal update is not
    the Communicate step (status page, users, stakeholders), a public update is."""
    open_p1(store, settings, clock)
    service.acknowledge(store, settings, 1, actor=BOB, now=clock())
    service.post_update(store, settings, 1, "Looking at the logs", actor=BOB, now=clock())
    assert steps.steps_done(store.incidents.timeline(1))["Communicate"] is None
    service.public_update(store, settings, 1, "We are on it", actor=BOB, now=clock())
    done = steps.steps_done(store.incidents.timeline(1))
    assert done["Acknowledge"] is not None
    assert done["Communicate"].text == "Public update: We are on it"
    assert done["Investigate"] is None and done["Resolve"] is None
