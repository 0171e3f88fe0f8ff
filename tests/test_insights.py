"""The figures of /incident stats on a history worked out by hand: medians and nearest-rank
p90s, the share within the plan's target, the period before, incidents per week."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.domain.incidents import insights
from bot.replies import UserError
from bot.store import Incident, Page

UTC_ZONE = ZoneInfo("UTC")
NOV = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def incident(
    number: int,
    severity: str,
    opened: datetime,
    ack: float | None,
    done: float | None,
    met: bool | None,
) -> Incident:
    return Incident(
        number=number,
        title=f"#{number}",
        severity=severity,
        status="resolved" if done is not None else "open",
        commander="U1",
        opened_by="U1",
        opened_at=opened,
        acked_at=opened + timedelta(minutes=ack) if ack is not None else None,
        resolved_at=opened + timedelta(minutes=done) if done is not None else None,
        target_met=met,
    )


HISTORY = [
    # P1 (target 1 h): acknowledged after 5, 10, 20 and 40 minutes, all within; one open
    incident(1, "P1", NOV, 5, 60, True),
    incident(2, "P1", NOV + timedelta(days=1), 10, 120, True),
    incident(3, "P1", NOV + timedelta(days=8), 20, 30, True),
    incident(4, "P1", NOV + timedelta(days=9), 40, None, True),
    # P0 (target 15 min): 30 minutes, missed
    incident(5, "P0", NOV + timedelta(days=15), 30, 90, False),
    # October, the month before: one P1 acknowledged after 50 minutes
    incident(6, "P1", datetime(2026, 10, 20, 9, tzinfo=UTC), 50, 70, True),
]


def test_response_times_per_severity_against_the_month_before() -> None:
    november = insights.period("2026-11", NOV, UTC_ZONE)
    assert (november.start, november.end) == (
        datetime(2026, 11, 1, tzinfo=UTC_ZONE),
        datetime(2026, 12, 1, tzinfo=UTC_ZONE),
    )
    p0, p1 = insights.response_times(insights.within(HISTORY, november), Settings())
    assert (p1.opened, p1.acked, p1.ack_median, p1.ack_p90) == (4, 4, 15.0, 40.0)
    assert (p1.judged, p1.met, p1.met_share) == (4, 4, 1.0)
    assert (p1.resolved, p1.resolve_median, p1.resolve_p90) == (3, 60.0, 120.0)
    assert (p0.severity, p0.ack_median, p0.met_share) == ("P0", 30.0, 0.0)
    october = insights.before(november)
    assert october.label == "October 2026"
    [before] = insights.response_times(insights.within(HISTORY, october), Settings())
    assert (before.severity, before.ack_median) == ("P1", 50.0)


def test_nearest_rank_p90() -> None:
    assert insights.p90([float(n) for n in range(1, 11)]) == 9.0  # the ninth of ten
    assert insights.p90([7.0]) == 7.0 and insights.p90([]) is None


def test_incidents_per_week_list_every_week_of_the_period() -> None:
    november = insights.period("2026-11", NOV, UTC_ZONE)
    weeks = insights.weekly(insights.within(HISTORY, november), november, UTC_ZONE, ["P0", "P1"])
    assert [monday for monday, _ in weeks] == [
        date(2026, 10, 26),  # the week November begins in
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]
    assert [counted for _, counted in weeks][1:4] == [
        {"P0": 0, "P1": 2},
        {"P0": 0, "P1": 2},
        {"P0": 1, "P1": 0},
    ]


def test_the_last_days_and_the_period_before() -> None:
    now = NOV + timedelta(days=20)
    last = insights.period("30d", now, UTC_ZONE)
    assert (last.end - last.start, last.label) == (timedelta(days=30), "the last 30 days")
    assert insights.before(last).end == last.start
    assert insights.period("", now, UTC_ZONE) == last  # 30 days unless asked


@pytest.mark.parametrize("typed", ["13m", "2026-13", "0d", "400d", "last week"])
def test_a_period_it_does_not_know_is_one_line_with_the_forms(typed: str) -> None:
    with pytest.raises(UserError) as said:
        insights.period(typed, NOV, UTC_ZONE)
    assert "`30d`, `90d`" in str(said.value) and f"`{typed}`" in str(said.value)


def test_an_incident_open_and_unacknowledged_has_no_time_yet() -> None:
    only = [replace(HISTORY[3], acked_at=None, target_met=None)]
    [p1] = insights.response_times(only, Settings())
    assert (p1.acked, p1.ack_median, p1.met_share, p1.resolved) == (0, None, None, 0)


def test_pages_by_person_in_their_own_time() -> None:
    """Bob is in New York: 03:00 UTC on a Tuesday is 22:00 Monday there (night); 15:00 UTC
    on a Saturday is the weekend; 14:00 UTC on a Wednesday is the day. Alice, in Berlin,
    was paged once as the escalation contact at 06:30 UTC on a Monday: 07:30 there, day."""
    tue = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)
    pages = [
        Page(1, tue, "U0BOB", "on call"),
        Page(1, datetime(2026, 11, 7, 15, 0, tzinfo=UTC), "U0BOB", "on call"),
        Page(2, datetime(2026, 11, 4, 14, 0, tzinfo=UTC), "U0BOB", "on call"),
        Page(3, datetime(2026, 11, 2, 6, 30, tzinfo=UTC), "U0ALICE", "escalation"),
    ]
    zones = {"U0BOB": "America/New_York", "U0ALICE": "Europe/Berlin"}
    bob, alice = insights.pages_by_person(pages, zones, UTC_ZONE)
    assert (bob.pages, bob.day, bob.night, bob.weekend, bob.escalations) == (3, 1, 1, 1, 0)
    assert (alice.pages, alice.day, alice.night, alice.escalations) == (1, 1, 0, 1)
    [someone] = insights.pages_by_person(
        [Page(1, tue, "U0C", "on call")], {}, ZoneInfo("Asia/Tokyo")
    )
    assert (someone.zone, someone.day) == ("Asia/Tokyo", 1)  # 12:00 in Tokyo: the team's zone


def test_the_noisiest_groups_and_the_follow_ups_owed() -> None:
    from bot.store import ActionItem, Alert

    def alert(n: int, group: str, repeats: int, incident: int | None, status: str) -> Alert:
        return Alert(
            n,
            "am",
            f"f{n}",
            status,
            None,
            "x",
            {},
            group,
            None,
            incident,
            None,
            NOV,
            NOV,
            None,
            repeats,
        )

    alerts = [
        alert(1, "db", 4, 7, "firing"),
        alert(2, "db", 0, 7, "resolved"),
        alert(3, "disk", 0, None, "resolved"),
        alert(4, "disk", 1, None, "firing"),
    ]
    db, disk = insights.noisiest(alerts)
    assert (db.group, db.notifications, db.incidents, db.resolved_alone) == ("db", 6, 1, 0)
    assert (disk.notifications, disk.incidents, disk.resolved_alone) == (3, 0, 1)
    today = date(2026, 11, 20)
    items = [
        ActionItem(1, 7, "U0BOB", "a", "2026-11-10", None, NOV),
        ActionItem(2, 7, "U0BOB", "b", None, None, NOV + timedelta(days=10)),
        ActionItem(3, 7, "U0ALICE", "c", None, None, NOV - timedelta(days=30)),
        ActionItem(4, 7, "U0ALICE", "d", "2026-11-01", NOV, NOV),  # done
    ]
    bob, alice = insights.follow_ups(items, today)
    assert (bob.owner, bob.open, bob.overdue, bob.oldest_days) == ("U0BOB", 2, 1, 18)
    assert (alice.open, alice.overdue, alice.oldest_days) == (1, 0, 48)


def test_incidents_by_what_opened_them() -> None:
    opened = [replace(HISTORY[0], opened_via="alerts"), replace(HISTORY[1], opened_via="hand")]
    assert insights.by_source([*opened, HISTORY[2]]) == {"hand": 1, "alerts": 1, "not recorded": 1}


def test_a_period_over_two_months_is_told_month_by_month() -> None:
    """90 days up to 2026-11-20: August (from the 22nd) to November; October has the one P1
    acknowledged after 50 minutes, November four with a median of 15."""
    span = insights.period("90d", datetime(2026, 11, 20, 12, tzinfo=UTC), UTC_ZONE)
    months = insights.by_month(insights.within(HISTORY, span), span, Settings())
    assert [name for name, _ in months] == [
        "August 2026",
        "September 2026",
        "October 2026",
        "November 2026",
    ]
    (_, aug), _, (_, october), (_, november) = months
    assert aug == [] and [(t.severity, t.ack_median) for t in october] == [("P1", 50.0)]
    assert [(t.severity, t.ack_median) for t in november] == [("P0", 30.0), ("P1", 15.0)]


def test_rounding_never_claims_more_than_was_done() -> None:
    assert insights.share(199 / 200) == "99%" and insights.share(1.0) == "100%"
    assert insights.took(25 / 60) == "25 s" and insights.took(90) == "1 h 30 min"
