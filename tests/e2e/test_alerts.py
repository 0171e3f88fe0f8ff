"""Alerts in, through the serve stack on loopback: Alertmanager, Grafana and Events v2 bodies
(shaped as their documentation's examples), routing, grouping, resolution, storms,
silences, maintenance, heartbeats. Bad input first: each is refused and changes nothing."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.stack import Stack
from tests.helpers import HTTP

SECRET = "am-secret-0123456789"
T = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SOURCES = [
    {"name": "prometheus", "kind": "alertmanager", "secret": SECRET},
    {"name": "grafana", "kind": "grafana", "secret": SECRET},
    {"name": "pd", "kind": "events", "secret": SECRET},
]


def make(
    tmp_path: Path, slack: LocalSlack, rules: list[dict[str, Any]] | None = None, **config: Any
) -> Stack:
    alerts: dict[str, Any] = {"sources": SOURCES, **({"rules": rules} if rules else {})}
    return Stack(
        slack,
        tmp_path / "opsbot.db",
        Clock(T),
        alerts=alerts,
        heartbeats=[
            {"name": "cron-report", "interval_minutes": 60, "grace_minutes": 5, "secret": SECRET}
        ],
        **config,
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with LocalSlack() as slack:
        running = make(tmp_path, slack)
        yield running
        running.stop()


def base(stack: Stack) -> str:
    return stack.url.replace("/slack/events", "")


def send(stack: Stack, path: str, body: Any, secret: str | None = SECRET) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = HTTP.post(base(stack) + path, content=raw, headers=headers, timeout=10)
    stack.settle()
    return answer


def alertmanager(status: str, *alerts: dict[str, Any], group: str = '{}:{alertname="X"}') -> dict:
    """Alertmanager's webhook body, version 4, as its documentation shows it."""
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "opsbot",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": a.get("status", status),
                "labels": {
                    "alertname": "HighErrorRate",
                    "severity": a.get("severity", "critical"),
                    "instance": a["instance"],
                },
                "annotations": {"summary": f"Error rate above 5% on {a['instance']}"},
                "startsAt": "2026-12-07T09:58:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": f"fp-{a['instance']}",
            }
            for a in alerts
        ],
    }


def nothing_changed(stack: Stack) -> None:
    assert stack.deps.store.alerts.find(firing_only=False) == []
    assert stack.deps.store.incidents.find(open_only=False) == []
    assert stack.slack.history("#incidents") == []


@pytest.mark.parametrize(
    ("path", "body", "secret", "code", "said"),
    [
        ("/alerts/alertmanager/prometheus", {}, "wrong", 401, "unknown source or wrong secret"),
        ("/alerts/alertmanager/nobody", {}, SECRET, 401, "unknown source or wrong secret"),
        ("/alerts/grafana/prometheus", {}, SECRET, 401, "unknown source or wrong secret"),
        ("/alerts/alertmanager/prometheus", b"{not json", SECRET, 400, "the body is not JSON"),
        ("/alerts/alertmanager/prometheus", {"alerts": []}, SECRET, 400, "non-empty list"),
        ("/alerts/events/pd", {"event_action": "explode"}, SECRET, 400, "event_action must be"),
        (
            "/alerts/events/pd",
            {"event_action": "trigger", "payload": {"summary": "x"}},
            SECRET,
            400,
            "payload.summary and payload.source are required",
        ),
        ("/alerts/alertmanager/prometheus", b"x" * 600_000, SECRET, 413, "over 512 KB"),
        ("/heartbeat/cron-report", {}, "wrong", 401, "wrong secret"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    stack: Stack, path: str, body: Any, secret: str, code: int, said: str
) -> None:
    answer = send(stack, path, body, secret)
    assert answer.status_code == code and said in answer.json()["error"]
    nothing_changed(stack)


def test_a_critical_group_opens_one_incident_repeats_update_and_resolution_offers_resolve(
    stack: Stack,
) -> None:
    first = send(
        stack,
        "/alerts/alertmanager/prometheus",
        alertmanager("firing", {"instance": "api-1"}, {"instance": "api-2"}),
    )
    assert first.status_code == 202 and first.json()["new"] == 2
    [incident] = stack.deps.store.incidents.find(open_only=True)
    assert incident.severity == "P1" and "Error rate above 5% on api-1" in incident.title
    assert incident.commander == "opsbot"  # no rotation here; with one, the on-call person
    entries = [e.text for e in stack.deps.store.incidents.timeline(1) if e.kind == "alert"]
    assert len(entries) == 2 and entries[0].startswith("Alert firing (prometheus)")
    again = send(
        stack, "/alerts/alertmanager/prometheus", alertmanager("firing", {"instance": "api-1"})
    )
    assert again.json()["repeats"] == 1
    assert len([e for e in stack.deps.store.incidents.timeline(1) if e.kind == "alert"]) == 2
    assert "2 firing · 0 resolved" in str(stack.card().blocks)
    send(
        stack,
        "/alerts/alertmanager/prometheus",
        alertmanager("resolved", {"instance": "api-1"}, {"instance": "api-2"}),
    )
    assert "0 firing · 2 resolved" in str(stack.card().blocks)
    offers = [m for m in stack.slack.history("#incidents") if "have resolved" in m.text]
    assert len(offers) == 1 and "Resolve" in str(offers[0].blocks)
    assert stack.deps.store.incidents.incident(1).is_open  # offered, not done


def test_auto_resolve_resolves_when_every_alert_has(tmp_path: Path) -> None:
    rules = [
        {
            "match": {"severity": "critical"},
            "action": "incident",
            "severity": "P2",
            "auto_resolve": True,
        },
        {"action": "post"},
    ]
    with LocalSlack() as slack:
        stack = make(tmp_path, slack, rules=rules)
        try:
            send(
                stack,
                "/alerts/alertmanager/prometheus",
                alertmanager("firing", {"instance": "db-1"}),
            )
            assert stack.deps.store.incidents.incident(1).severity == "P2"
            send(
                stack,
                "/alerts/alertmanager/prometheus",
                alertmanager("resolved", {"instance": "db-1"}),
            )
            incident = stack.deps.store.incidents.incident(1)
        finally:
            stack.stop()
    assert incident.status == "resolved" and incident.summary == "All alerts resolved"


def test_warnings_post_once_silences_mute_and_maintenance_shows_publicly(stack: Stack) -> None:
    body = alertmanager("firing", {"instance": "web-1", "severity": "warning"}, group="g2")
    send(stack, "/alerts/alertmanager/prometheus", body)
    send(stack, "/alerts/alertmanager/prometheus", body)  # a repeat posts nothing
    posts = [m.text for m in stack.slack.history("#incidents")]
    assert len(posts) == 1 and "*firing* (prometheus) Error rate above 5% on web-1" in posts[0]
    said = stack.command(
        "silence source=prometheus severity=warning 2h Planned upgrade", name="/alerts"
    ).json()["text"]
    assert said.startswith(":mute: S1: alerts matching source=prometheus severity=warning")
    send(
        stack,
        "/alerts/alertmanager/prometheus",
        alertmanager("firing", {"instance": "web-2", "severity": "warning"}, group="g3"),
    )
    assert len(stack.slack.history("#incidents")) == 1  # recorded, not posted
    listed = stack.command("", name="/alerts").json()["text"]
    assert "web-2 (silenced by S1)" in listed and "web-1, 1 repeats" in listed
    assert "S1" in stack.command("silences", name="/alerts").json()["text"]
    assert "ended" in stack.command("unsilence S1", name="/alerts").json()["text"]
    stack.command("maintenance API 2h Upgrading the database", name="/alerts")
    page = HTTP.get(base(stack) + "/status.json").json()
    assert page["maintenance"][0]["component"] == "API"
    assert page["maintenance"][0]["text"] == "Upgrading the database"


def test_grafana_and_events_v2_bodies(stack: Stack) -> None:
    """Grafana's contact-point example; PagerDuty's Events v2 example, authorised by its
    routing_key alone; acknowledge and resolve by dedup_key."""
    grafana = {
        "receiver": "opsbot",
        "status": "firing",
        "orgId": 1,
        "groupKey": "{}:{}",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://grafana:3000/",
        "version": "1",
        "truncatedAlerts": 0,
        "title": "[FIRING:1] DiskFull",
        "state": "alerting",
        "message": "...",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "severity": "warning", "instance": "db-1"},
                "annotations": {"summary": "Disk 95% full on db-1"},
                "startsAt": "2026-12-07T09:55:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://grafana:3000/alerting/grafana/abc/view",
                "fingerprint": "c6eadffa33fcdf37",
                "silenceURL": "http://grafana:3000/x",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 95},
                "valueString": "B=95",
            }
        ],
    }
    assert send(stack, "/alerts/grafana/grafana", grafana).status_code == 202
    assert "Disk 95% full on db-1" in stack.slack.history("#incidents")[0].text
    trigger = {
        "payload": {
            "summary": "Example alert on host1.example.com",
            "timestamp": "2026-12-07T09:59:00.000+0000",
            "severity": "critical",
            "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:"
            "cluster/api-stats-prod-003",
            "component": "postgres",
            "group": "prod-datapipe",
            "class": "deploy",
        },
        "routing_key": SECRET,
        "dedup_key": "samplekeyhere",
        "event_action": "trigger",
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.service.com",
    }
    answer = send(stack, "/alerts/events/pd", trigger, secret=None)
    assert answer.status_code == 202 and answer.json()["dedup_key"] == "samplekeyhere"
    [incident] = stack.deps.store.incidents.find(open_only=True)
    for action in ("acknowledge", "resolve"):
        body = {"routing_key": SECRET, "dedup_key": "samplekeyhere", "event_action": action}
        assert send(stack, "/alerts/events/pd", body, secret=None).status_code == 202
        if action == "acknowledge":  # acknowledged at its source is still not resolved
            card_ts = stack.deps.store.incidents.incident(incident.number).card_ts
            card = next(m for m in stack.slack.history("#incidents") if m.ts == card_ts)
            assert "1 firing · 0 resolved" in str(card.blocks)
            assert not [m for m in stack.slack.history("#incidents") if "have resolved" in m.text]
    texts = [
        e.text for e in stack.deps.store.incidents.timeline(incident.number) if e.kind == "alert"
    ]
    assert [t.split(" (pd)")[0] for t in texts] == [
        "Alert firing",
        "Alert acknowledged at source",
        "Alert resolved",
    ]


def test_a_storm_is_folded_into_one_summary_updated_in_place(stack: Stack) -> None:
    for n in range(45):
        send(
            stack,
            "/alerts/alertmanager/prometheus",
            alertmanager("firing", {"instance": f"node-{n}", "severity": "warning"}, group=f"g{n}"),
        )
    posts = stack.slack.history("#incidents")
    singles = [m for m in posts if m.text.startswith(":rotating_light:")]
    summaries = [m for m in posts if "Alert storm" in m.text]
    assert len(singles) == 30 and len(summaries) == 1
    assert "45 alerts" in summaries[0].text  # updated in place to the last count
    assert len(stack.deps.store.alerts.find()) == 45  # every alert recorded


def test_a_deleted_storm_summary_is_posted_anew(stack: Stack) -> None:
    """Someone deleted the storm's summary: its next update posts a new one instead of
    being given up on."""
    for n in range(35):
        body = alertmanager("firing", {"instance": f"n-{n}", "severity": "warning"}, group=f"g{n}")
        send(stack, "/alerts/alertmanager/prometheus", body)
    [summary] = [m for m in stack.slack.history("#incidents") if "Alert storm" in m.text]
    stack.slack.delete(summary)
    body = alertmanager("firing", {"instance": "n-99", "severity": "warning"}, group="g99")
    send(stack, "/alerts/alertmanager/prometheus", body)
    stack.settle()
    [again] = [m for m in stack.slack.history("#incidents") if "Alert storm" in m.text]
    assert again.ts != summary.ts and "36 alerts" in again.text
    assert stack.deps.store.outbox.outbox_summary(datetime.now(UTC))["dead"] == 0


def flood(stack: Stack, first: int, count: int) -> None:
    """`count` critical alerts from prometheus, each in a group of its own."""
    for n in range(first, first + count):
        body = alertmanager("firing", {"instance": f"node-{n}"}, group=f"g{n}")
        assert send(stack, "/alerts/alertmanager/prometheus", body).status_code == 202


def test_a_flood_opens_the_cap_then_one_storm_incident_that_takes_in_the_rest(
    tmp_path: Path,
) -> None:
    """30 critical groups from one source open 5 incidents and one storm incident, led by the
    person on call, that records the other 25 and their resolutions; it goes on while new
    groups keep coming, and a quiet window later a new group opens its own incident again."""
    with LocalSlack() as slack:
        stack = make(tmp_path, slack, oncall={"rotation": ["U0BOB0001"], "start": "2026-11-30"})
        try:
            flood(stack, 0, 30)
            opened = stack.deps.store.incidents.find(open_only=True)
            assert sorted(i.number for i in opened) == [1, 2, 3, 4, 5, 6]
            storm = stack.deps.store.incidents.incident(6)
            assert storm.title == (
                "Alert storm from prometheus: its cap of 5 incidents in 15 min was reached"
            )
            assert storm.commander == "U0BOB0001" and storm.severity == "P1"
            assert "node-4" in stack.deps.store.incidents.incident(5).title
            [mark] = [e.text for e in stack.deps.store.incidents.timeline(5) if e.kind == "cap"]
            assert mark.endswith("5 of the 5 incidents its alerts may open in 15 min")
            by_alert = {a.fingerprint: a.incident for a in stack.deps.store.alerts.find()}
            assert {by_alert[f"fp-node-{n}"] for n in range(5, 30)} == {6}
            entries = stack.deps.store.incidents.timeline(6)
            fired = [e.text for e in entries if (e.source or "").startswith("alert:")]
            assert len(fired) == 25 and "node-5" in fired[0] and "node-29" in fired[-1]
            notes = [e.text for e in entries if (e.source or "").startswith("alert-storm:")]
            assert "opened 5 incidents in the last 15 min, the cap" in notes[0]
            assert (
                "`incident_cap = 5` per `incident_cap_minutes = 15` in the `[alerts]`" in (notes[0])
            )
            assert len(notes) == 26 and "25 alerts in 25 groups so far" in notes[-1]
            cards = [m for m in slack.history("#incidents") if not m.thread_ts]
            assert len(cards) == 6
            storm_card = next(m for m in cards if m.ts == storm.card_ts)
            assert "25 firing · 0 resolved" in str(storm_card.blocks)
            assert any("`incident_cap = 5`" in t for t in stack.thread())

            resolved = alertmanager("resolved", {"instance": "node-7"}, group="g7")
            send(stack, "/alerts/alertmanager/prometheus", resolved)
            last = stack.deps.store.incidents.timeline(6)[-1].text
            assert last.startswith("Alert resolved (prometheus): Error rate above 5% on node-7")
            storm_card = next(m for m in slack.history("#incidents") if m.ts == storm.card_ts)
            assert "24 firing · 1 resolved" in str(storm_card.blocks)

            stack.clock.advance(minutes=14)
            flood(stack, 30, 1)  # the storm goes on: a new group came within 15 min
            stack.clock.advance(minutes=14)  # the five are out of the window, the storm is not
            flood(stack, 31, 1)
            assert stack.deps.store.alerts.alert("prometheus", "fp-node-31").incident == 6
            stack.clock.advance(minutes=16)  # 15 min without a new group: the storm is over
            flood(stack, 32, 1)
            fresh = stack.deps.store.alerts.alert("prometheus", "fp-node-32").incident
            titled = stack.deps.store.incidents.incident(7).title
        finally:
            stack.stop()
    assert fresh == 7 and titled == "Error rate above 5% on node-32 (prometheus)"


def test_the_cap_is_counted_in_the_database_so_another_process_sees_it(tmp_path: Path) -> None:
    """A fresh opsbot process on the same database counts the incidents another opened and
    starts the storm; the first, started again, joins that storm."""
    from tests.e2e.conftest import Server

    config = tmp_path / "opsbot.toml"
    config.write_text(
        f'[[alerts.sources]]\nname = "prometheus"\nkind = "alertmanager"\nsecret = "{SECRET}"\n'
    )
    with LocalSlack() as slack:
        stack = Stack(
            slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)), alerts={"sources": SOURCES}
        )
        flood(stack, 0, 4)
        stack.stop()
        server = Server(
            slack,
            tmp_path / "opsbot.db",
            tmp_path / "serve.log",
            env={"OPSBOT_CONFIG": str(config)},
        ).start()
        try:
            for n in (4, 5):
                body = alertmanager("firing", {"instance": f"node-{n}"}, group=f"g{n}")
                answer = HTTP.post(
                    server.url + "/alerts/alertmanager/prometheus",
                    json=body,
                    headers={"Authorization": f"Bearer {SECRET}"},
                    timeout=10,
                )
                assert answer.status_code == 202
        finally:
            server.stop()
        stack.clock.advance(minutes=1)  # the other process's clock is the real one
        stack.start()
        try:
            flood(stack, 6, 1)
            titles = [i.title for i in stack.deps.store.incidents.find(open_only=True)]
            joined = stack.deps.store.alerts.alert("prometheus", "fp-node-6").incident
        finally:
            stack.stop()
    assert len(titles) == 6 and joined == 6
    assert sorted(titles)[0].startswith("Alert storm from prometheus")


def test_a_missed_heartbeat_alerts_once_and_the_next_beat_resolves_it(stack: Stack) -> None:
    assert send(stack, "/heartbeat/cron-report", {}).status_code == 200
    stack.run("heartbeat-check", minutes=30)
    assert stack.deps.store.alerts.find() == []
    assert "Missed: cron-report" in stack.run("heartbeat-check", minutes=40)
    assert "Still missed: cron-report" in stack.run("heartbeat-check", minutes=5)  # once
    [alert] = stack.deps.store.alerts.find()
    assert alert.source == "heartbeat" and alert.incident is not None  # critical: an incident
    send(stack, "/heartbeat/cron-report/" + SECRET, {}, secret=None)  # secret in the path
    assert stack.deps.store.alerts.find() == []
    entries = [
        e.text for e in stack.deps.store.incidents.timeline(alert.incident) if e.kind == "alert"
    ]
    assert entries[-1].startswith("Alert resolved (heartbeat)")


def test_the_self_heartbeat_pings_while_healthy_and_says_when_it_cannot(tmp_path: Path) -> None:
    from tests.e2e.fakes import ThirdParty

    watcher = ThirdParty()
    try:
        with LocalSlack() as slack:
            stack = Stack(
                slack,
                tmp_path / "opsbot.db",
                Clock(T),
                self_heartbeat_url=f"{watcher.url}/ping/abc123",
            )
            try:
                assert stack.run("self-heartbeat") == "Pinged."
                watcher.always = 503
                assert "ping failed (HTTPStatusError)" in stack.run("self-heartbeat", minutes=1)
            finally:
                stack.stop()
    finally:
        watcher.close()
    assert watcher.calls[0]["path"] == "/ping/abc123" and watcher.calls[0]["method"] == "GET"


def test_an_incident_opened_by_alerts_is_led_by_the_person_on_call(tmp_path: Path) -> None:
    with LocalSlack() as slack:
        stack = make(tmp_path, slack, oncall={"rotation": ["U0BOB0001"], "start": "2026-11-30"})
        try:
            send(
                stack,
                "/alerts/alertmanager/prometheus",
                alertmanager("firing", {"instance": "api-9"}),
            )
            incident = stack.deps.store.incidents.incident(1)
        finally:
            stack.stop()
    assert incident.commander == "U0BOB0001"


def test_a_silence_ends_on_time(stack: Stack) -> None:
    """On the injectable clock: muted for its hour, posting again after it."""
    stack.command("silence severity=warning 1h Noisy disk check", name="/alerts")
    warn = {"instance": "disk-1", "severity": "warning"}
    send(stack, "/alerts/alertmanager/prometheus", alertmanager("firing", warn, group="d1"))
    assert stack.slack.history("#incidents") == []
    stack.clock.advance(minutes=61)
    later = {"instance": "disk-2", "severity": "warning"}
    send(stack, "/alerts/alertmanager/prometheus", alertmanager("firing", later, group="d2"))
    [post] = stack.slack.history("#incidents")
    assert "disk-2" in post.text
    assert "No silence" in stack.command("silences", name="/alerts").json()["text"]


def test_an_alert_firing_again_after_its_incident_was_resolved_opens_a_new_one(
    stack: Stack,
) -> None:
    body = alertmanager("firing", {"instance": "api-7"})
    send(stack, "/alerts/alertmanager/prometheus", body)
    stack.command("resolve INC-1 Restarted the pool")
    stack.settle()
    before = stack.deps.store.incidents.timeline(1)
    send(stack, "/alerts/alertmanager/prometheus", alertmanager("resolved", {"instance": "api-7"}))
    assert (
        stack.deps.store.incidents.timeline(1) == before
    )  # a resolved incident's record is left alone
    send(stack, "/alerts/alertmanager/prometheus", body)
    assert [i.number for i in stack.deps.store.incidents.find(open_only=True)] == [2]
    assert stack.deps.store.alerts.find()[0].incident == 2


def test_an_alert_firing_again_during_a_silence_is_muted(stack: Stack) -> None:
    warn = {"instance": "q-1", "severity": "warning"}
    send(stack, "/alerts/alertmanager/prometheus", alertmanager("firing", warn, group="q"))
    send(stack, "/alerts/alertmanager/prometheus", alertmanager("resolved", warn, group="q"))
    posted = len(stack.slack.history("#incidents"))
    stack.command("silence instance=q-1 1h Flapping queue", name="/alerts")
    send(stack, "/alerts/alertmanager/prometheus", alertmanager("firing", warn, group="q"))
    assert len(stack.slack.history("#incidents")) == posted
    assert stack.deps.store.alerts.find()[0].silenced_by == 1


def test_an_alert_quoting_a_password_is_stored_masked_beside_the_others(stack: Stack) -> None:
    """One alert of a body quotes password="…" in a label and its description, the other is
    APIDown: the body is taken, both are stored, the incident opens, and the stored labels
    are valid JSON with the password masked; what people type is posted as typed."""
    body = alertmanager("firing", {"instance": "api-1"}, {"instance": "login-1"})
    body["alerts"][0]["labels"]["alertname"] = "APIDown"
    quoted = 'login probe sent password="hunter2hunter2" and was refused'
    body["alerts"][1]["labels"].update(severity="warning", probe=quoted)
    body["alerts"][1]["annotations"] = {"description": quoted}
    answer = send(stack, "/alerts/alertmanager/prometheus", body)
    assert answer.status_code == 202 and answer.json()["new"] == 2
    assert len(stack.deps.store.alerts.find(firing_only=False)) == 2
    [incident] = stack.deps.store.incidents.find(open_only=True)
    assert incident.severity == "P1"
    with sqlite3.connect(stack.db) as db:
        rows = db.execute("SELECT labels, summary FROM alerts ORDER BY id").fetchall()
    labels = [json.loads(row[0]) for row in rows]
    masked = 'login probe sent password="***" and was refused'
    assert labels[0]["alertname"] == "APIDown" and labels[1]["probe"] == masked
    assert rows[1][1] == masked
    posted = [m.text for m in stack.slack.history("#incidents")]
    assert any(masked in text for text in posted) and "hunter2" not in str(posted)

    typed = "password: reset emails not sent, see https://medium.com/@ops/postmortem"
    stack.command(f"update INC-{incident.number} {typed}")
    stack.settle()
    assert typed in [e.text for e in stack.deps.store.incidents.timeline(incident.number)]
    assert any(typed in text for text in stack.thread())


@pytest.mark.parametrize("secret", [SECRET, None], ids=["signed", "unsigned"])
def test_a_body_nested_too_deep_is_400(
    stack: Stack, secret: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """A body nested past 64 levels (or past the parser's stack) is 400 with the reason,
    signed or not, like a body too big: no 500, no traceback, nothing changed."""
    for levels in (100, 50_000):
        body = b'{"alerts": ' + b"[" * levels + b"]" * levels + b"}"
        answer = send(stack, "/alerts/alertmanager/prometheus", body, secret)
        assert answer.status_code == 400, levels
        assert answer.json() == {"error": "the body nests deeper than 64 levels"}
    nothing_changed(stack)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_secret_in_the_path_never_reaches_the_log(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected failure behind an intake URL carrying its secret (its table gone) is a
    500 with a reference; the log has the traceback and never the secret."""
    caplog.set_level(logging.DEBUG)
    with sqlite3.connect(stack.db) as db:
        db.execute("ALTER TABLE alerts RENAME TO alerts_gone")
        db.execute("ALTER TABLE heartbeats RENAME TO heartbeats_gone")
    body = alertmanager("firing", {"instance": "api-1"})
    for path in (f"/alerts/alertmanager/prometheus/{SECRET}", f"/heartbeat/cron-report/{SECRET}"):
        answer = send(stack, path, body, secret=None)
        assert answer.status_code == 500 and "(ref " in answer.json()["error"], path
    # the server's records; httpx, the client here, logs the URLs it was asked to call
    served = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(logging.Formatter().format(r) for r in served)
    assert "no such table: alerts" in logged and "no such table: heartbeats" in logged
    assert SECRET not in logged
