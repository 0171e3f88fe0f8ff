"""Health probes and the monitor's rules, with a controllable clock and made-up readings."""

from datetime import timedelta

import httpx
import mongomock
import pytest
from pymongo import MongoClient

from bot.config import Thresholds
from bot.domain import health as checks
from bot.domain.health import CRITICAL, NOT_CONFIGURED, OK, WARNING, Reading
from bot.replies import sparkline
from bot.store import Episode, SecurityFinding
from commands.health import monitor
from tests.conftest import T0


def test_redact_hides_credentials_anywhere() -> None:
    """User and password in any URL become ***."""
    text = "failed: mongodb://admin:hunter2@db.internal:27017/pb and https://u:p@x.io/a"
    assert (
        checks.redact(text) == "failed: mongodb://***@db.internal:27017/pb and https://***@x.io/a"
    )


def test_sparkline_scales_to_the_range() -> None:
    """Lowest value is the lowest bar, highest the highest."""
    assert sparkline([1, 5, 9]) == "▁▄█"
    assert sparkline([3]) == ""


def test_error_rate_as_a_fraction_when_configured() -> None:
    """An API that says 0.03 for 3 % is read right when configured so."""
    client = http(lambda request: httpx.Response(200, json={"errorRate": 0.03}))
    reading = checks.probe_traffic(client, "http://pb.test", "/p", Thresholds(), 2, True)
    assert (reading.state, reading.summary) == (WARNING, "errors 3.0 %")


def http(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "state"), [(200, OK), (503, CRITICAL), (500, CRITICAL), (404, CRITICAL)]
)
def test_api_probe(status: int, state: str) -> None:
    """5xx (or no health route) is service down; 200 is ok with its latency."""
    client = http(lambda request: httpx.Response(status, json={"status": "ok"}))
    reading = checks.probe_api(client, "http://pb.test", 2)
    assert reading.state == state
    assert reading.value is not None


def test_api_probe_timeout_and_not_configured() -> None:
    """No answer in time is service down; no URL is not configured."""

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    assert checks.probe_api(http(hang), "http://pb.test", 2).summary == (
        "service down: no answer in 2 s"
    )
    assert checks.probe_api(http(hang), None, 2).state == NOT_CONFIGURED


@pytest.mark.parametrize(
    ("body", "state", "summary"),
    [
        ({"errorRate": 0.5, "p50": 80, "p95": 300, "p99": 900}, OK, "errors 0.5 %"),
        ({"data": {"error_rate": 3.0, "p95": 200}}, WARNING, "errors 3.0 % · p95 200 ms"),
        ({"errorRate": 0.1, "p95": 1500}, WARNING, "p95 1500 ms"),
        ({"errorRate": 7}, CRITICAL, "errors 7.0 %"),
        ({"visits": 3}, NOT_CONFIGURED, "no error rate"),
    ],
)
def test_traffic_probe(body: dict, state: str, summary: str) -> None:
    """Error rate (fraction or percent) and p95 against the plan's thresholds."""
    client = http(lambda request: httpx.Response(200, json=body))
    reading = checks.probe_traffic(client, "http://pb.test", "/perf", Thresholds(), 2)
    assert reading.state == state and summary in reading.summary


def test_mongo_probe_ok_and_failing_never_shows_the_uri() -> None:
    """mongomock answers ping; an unreachable server is critical without its URI."""
    assert checks.probe_mongo(lambda: mongomock.MongoClient(), 1).state == OK
    uri = "mongodb://admin:hunter2@127.0.0.1:9/?serverSelectionTimeoutMS=300"
    reading = checks.probe_mongo(lambda: MongoClient(uri, serverSelectionTimeoutMS=300), 1)
    assert reading.state == CRITICAL and "hunter2" not in reading.summary
    assert reading.summary.startswith("DB connection failure")


# The monitor ---------------------------------------------------------------------------------


def cpu(state: str, value: float = 90) -> Reading:
    return Reading("cpu", state, f"{value:.0f} % busy", value)


def api(state: str) -> Reading:
    return Reading("api", state, "service down: HTTP 503" if state == CRITICAL else "HTTP 200")


def alerts(slack) -> list:  # type: ignore[no-untyped-def]
    """The monitor's own messages (the channel also holds incident cards)."""
    return [m for m in slack.history("#incidents") if not m.thread_ts and "INC-" not in m.text]


def test_short_cpu_spike_is_no_alert_but_five_minutes_is(deps, slack, clock) -> None:
    """Two minutes over 80 % says nothing; five minutes over it opens one alert."""
    for minute in range(3):
        monitor.step(deps, [cpu(WARNING if minute else OK)], clock.advance(minutes=1))
    monitor.step(deps, [cpu(OK, 20)], clock.advance(minutes=1))
    assert alerts(slack) == []
    for _ in range(7):
        monitor.step(deps, [cpu(WARNING)], clock.advance(minutes=1))
    [alert] = alerts(slack)
    assert "*cpu is warning*" in alert.text


def test_one_alert_per_episode_then_recovery(deps, slack, clock) -> None:
    """API down: one message, updated not repeated; one good reading is not yet recovery."""
    for _ in range(3):
        monitor.step(deps, [api(CRITICAL)], clock.advance(minutes=1))
    monitor.step(deps, [api(OK)], clock.advance(minutes=1))  # hysteresis: not yet
    monitor.step(deps, [api(CRITICAL)], clock.advance(minutes=1))  # flapped back: same episode
    assert len(alerts(slack)) == 1
    monitor.step(deps, [api(OK)], clock.advance(minutes=1))
    monitor.step(deps, [api(OK)], clock.advance(minutes=1))
    [alert] = alerts(slack)
    assert alert.text.startswith(":white_check_mark: *api* recovered after 6 min")
    replies = [m.text for m in slack.history("#incidents") if m.thread_ts == alert.ts]
    assert len(replies) == 1 and "recovered" in replies[0]
    monitor.step(deps, [api(CRITICAL)], clock.advance(minutes=1))  # a new episode
    assert len(alerts(slack)) == 2


def test_api_down_opens_one_p0_and_then_adds_to_it(deps, clock) -> None:
    """The first outage opens a P0; the next one, while it is open, goes on its timeline."""
    monitor.step(deps, [api(CRITICAL)], clock.advance(minutes=1))
    [incident] = deps.store.incidents.find(open_only=True)
    assert incident.severity == "P0" and incident.title.startswith("Prompt-Base API down")
    for _ in range(2):
        monitor.step(deps, [api(OK)], clock.advance(minutes=1))
    monitor.step(deps, [api(CRITICAL)], clock.advance(minutes=1))
    assert len(deps.store.incidents.find(open_only=False)) == 1
    notes = [e.text for e in deps.store.incidents.timeline(incident.number) if e.kind == "update"]
    assert notes == ["Health monitor: service down: HTTP 503"]


@pytest.mark.both_engines
def test_readings_are_kept_for_the_retention_window(deps, clock) -> None:
    """Readings older than the retention window are dropped."""
    monitor.step(deps, [cpu(OK, 10)], clock())
    monitor.step(deps, [cpu(OK, 12)], clock.advance(days=8))
    rows = deps.store.health.readings("cpu", clock() - timedelta(days=30))
    assert [r.value for r in rows] == [12]


# What the monitor and the audit keep, on both engines -----------------------------------


@pytest.mark.both_engines
def test_readings_read_back_in_time_order_with_no_credentials(store) -> None:
    """Each round's readings read back per check in time order, values as given, URLs
    without their credentials; a round with no readings still drops the expired ones."""
    keep = timedelta(days=1)
    store.health.add_readings(
        T0,
        [
            ("cpu", OK, 12.5, "12 % busy"),
            ("mongo", CRITICAL, None, "failed: mongodb://admin:hunter2@db.internal/pb"),
        ],
        keep,
    )
    store.health.add_readings(T0 + timedelta(hours=1), [("cpu", WARNING, 85.25, "85 % busy")], keep)
    store.health.add_readings(T0 + timedelta(hours=2), [], keep)
    cpu = store.health.readings("cpu", T0)
    assert [(r.at, r.state, r.value) for r in cpu] == [
        (T0, OK, 12.5),
        (T0 + timedelta(hours=1), WARNING, 85.25),
    ]
    [mongo] = store.health.readings("mongo", T0)
    assert (mongo.value, mongo.summary) == (None, "failed: mongodb://***@db.internal/pb")
    assert [r.value for r in store.health.readings("cpu", T0 + timedelta(minutes=1))] == [85.25]
    store.health.add_readings(T0 + timedelta(days=1, minutes=30), [], keep)
    assert [r.value for r in store.health.readings("cpu", T0)] == [85.25]
    assert store.health.readings("mongo", T0) == []


@pytest.mark.both_engines
def test_an_episode_changes_in_place_until_it_closes(store) -> None:
    """A saved episode is the check's open one; a save by id changes only the fields given;
    once it has ended the check has none open, and the next episode is a new row."""
    assert store.health.open_episode("api") is None
    opened = {
        "check_name": "api",
        "state": WARNING,
        "started_at": T0.isoformat(),
        "channel": "C0INCIDENTS",
        "ts": "1764237600.000100",
        "ok_streak": 0,
    }
    first = store.health.save_episode(opened)
    episode = Episode(first, "api", WARNING, T0, None, "C0INCIDENTS", "1764237600.000100", None, 0)
    assert store.health.open_episode("api") == episode
    assert store.health.open_episode("cpu") is None
    assert store.health.save_episode({"id": first, "state": CRITICAL, "ok_streak": 1}) == first
    assert store.health.open_episode("api") == Episode(
        first, "api", CRITICAL, T0, None, "C0INCIDENTS", "1764237600.000100", None, 1
    )
    ended = T0 + timedelta(minutes=6)
    store.health.save_episode(
        {"id": first, "ended_at": ended.isoformat(), "state": OK, "ok_streak": 2}
    )
    assert store.health.open_episode("api") is None
    second = store.health.save_episode({**opened, "started_at": ended.isoformat()})
    assert second != first
    now_open = store.health.open_episode("api")
    assert now_open is not None and (now_open.id, now_open.started_at) == (second, ended)


@pytest.mark.both_engines
def test_security_runs_keep_each_finding_once_newest_first(store) -> None:
    """A finding reported twice in one audit is kept once; runs read back newest first with
    their summaries and fingerprints, and a finding is found by its run and fingerprint."""
    summary = {"deps": {"state": WARNING, "summary": "1 vulnerable package"}}
    first = store.security.add_security_run(
        T0,
        summary,
        [
            ("f-cve", "deps", "high", "CVE-2026-0001 in requests"),
            ("f-cve", "deps", "high", "CVE-2026-0001 in requests"),
            ("f-key", "secrets", "critical", "an API key in .env"),
        ],
    )
    second = store.security.add_security_run(T0 + timedelta(days=30), {}, [])
    assert second > first
    latest, earlier = store.security.security_runs()
    assert (latest.id, latest.at, latest.summary, latest.fingerprints) == (
        second,
        T0 + timedelta(days=30),
        {},
        set(),
    )
    assert (earlier.id, earlier.summary, earlier.fingerprints) == (
        first,
        summary,
        {"f-cve", "f-key"},
    )
    assert [run.id for run in store.security.security_runs(limit=1)] == [second]
    assert store.security.security_finding(first, "f-cve") == SecurityFinding(
        first, "f-cve", "deps", "high", "CVE-2026-0001 in requests"
    )
    assert store.security.security_finding(second, "f-cve") is None
