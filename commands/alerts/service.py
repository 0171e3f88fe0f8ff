"""Alerts in: de-duplicate, group, route, silence, resolve; heartbeats.

Every alert is a row keyed by its source and fingerprint: a repeat updates it, a change of
status is a timeline entry on its incident. Routing rules (first match wins) open or join an
incident, post in a channel, or drop. A source past `storm_per_minute` has its posts folded
into one summary message per channel, updated in place; its incidents still get every entry.
A source's alerts open at most `incident_cap` incidents per `incident_cap_minutes` (counted in
the database, so every process sees the same count); past it, new groups join the source's
one alert storm incident, so a flood cannot bury a page behind its own cards.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import outbox, posting
from bot.config import AlertRule, Heartbeat, Settings
from bot.deps import Deps
from bot.domain.incidents import effects
from bot.domain.incidents import service as incidents
from bot.domain.incidents.card import STEP_ACTIONS
from bot.domain.incidents.outcome import Outcome, publish, resolve
from bot.domain.oncall import who
from bot.failures import slack_error
from bot.replies import Reply, blocks, buttons, clip, section
from bot.store import Alert, Entry
from bot.store.outbox import Effect
from commands.alerts.intake import AlertEvent

log = logging.getLogger(__name__)

OPENED_KEY = "alerts.opened.{}"  # an incident opened by alerts (auto-resolve applies to it)
OPENED_BY = "alerts-opened:{}"  # the timeline mark of an incident a source's alerts opened
STORM_KEY = "alerts.storm.{}"  # a source's storm incident: {"incident": n, "last": a group in}
STORM_ENTRY = "alert-storm:{}:{}"  # the storm incident's entries: source, alerts taken in
OFFERED_KEY = "alerts.offered.{}"  # "All alerts resolved: Resolve?" was posted
SUMMARY_KEY = "alerts.summary.{}"  # a channel's storm summary message: channel, ts, since
SUMMARY_QUIET = timedelta(minutes=10)  # a storm this long over: the next gets a new message
HEARTBEAT_SOURCE = "heartbeat"


@dataclass(frozen=True)
class Received:
    new: int = 0
    changed: int = 0
    repeats: int = 0
    silenced: int = 0


def rule_for(settings: Settings, source: str, labels: dict[str, str]) -> AlertRule | None:
    for rule in settings.alerts.rules:
        if rule.source not in ("*", source):
            continue
        if all(labels.get(key) == value for key, value in rule.match.items()):
            return rule
    return None


def silence_for(silences: list[dict[str, Any]], source: str, labels: dict[str, str]) -> int | None:
    """The first of `silences` (those in force) that covers this alert."""
    found = next((s for s in silences if matches(s["matchers"], source, labels)), None)
    return int(found["id"]) if found else None


def matches(matchers: dict[str, str], source: str, labels: dict[str, str]) -> bool:
    """`source` matches the alert's source; `component` a component or service label."""
    for key, wanted in matchers.items():
        if key == "source":
            found: str | None = source
        elif key == "component":
            found = labels.get("component") or labels.get("service")
        else:
            found = labels.get(key)
        if found != wanted:
            return False
    return True


class Storms:
    """Alerts per source in the last minute (this process's count)."""

    def __init__(self) -> None:
        self._seen: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def count(self, source: str) -> int:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(source, collections.deque())
            seen.append(now)
            while seen and seen[0] < now - 60:
                seen.popleft()
            return len(seen)


STORMS = Storms()


def receive(deps: Deps, source: str, events: list[AlertEvent], now: datetime) -> Received:
    """Everything one body says, in one transaction with the effects it owes."""
    counts = collections.Counter[str]()
    touched: set[int] = set()
    limit = deps.settings.alerts.storm_per_minute
    with deps.store.atomic():
        # read once for the whole body (up to 1,000 alerts), not once per alert
        silences = [s for s in deps.store.silences(now) if s["starts_at"] <= now]
        for event in events:
            # every alert counts toward a storm, repeats too: the rate is the source's
            storming = STORMS.count(f"{deps.store.path}:{source}") > limit
            kind, incident = _one(deps, source, event, now, silences, storming)
            counts[kind] += 1
            if incident is not None:
                touched.add(incident)
        for number in sorted(touched):
            effects.card(deps, number)
            _all_resolved(deps, number)
    return Received(counts["new"], counts["changed"], counts["repeat"], counts["silenced"])


def _one(
    deps: Deps,
    source: str,
    event: AlertEvent,
    now: datetime,
    silences: list[dict[str, Any]],
    storming: bool,
) -> tuple[str, int | None]:
    known = deps.store.alert(source, event.fingerprint)
    if known is None and event.status != "firing":
        return "repeat", None  # a resolve for an alert never seen: nothing to change
    labels = event.labels or (known.labels if known else {})
    summary = event.summary or (known.summary if known else event.fingerprint)
    changed = known is None or known.status != event.status
    group = _group_key(deps.settings, source, event, labels)
    silenced = silence_for(silences, source, labels) if event.status == "firing" else None
    row: dict[str, Any] = {
        "source": source,
        "fingerprint": event.fingerprint,
        "status": event.status,
        "severity": labels.get("severity"),
        "summary": summary,
        "labels": labels,
        "group_key": known.group_key if known else group,
        "url": event.url or (known.url if known else None),
        "last_seen": now,
        "first_seen": known.first_seen if known else now,
        "resolved_at": now if event.status == "resolved" else None,
        "repeats": (known.repeats + (0 if changed else 1)) if known else 0,
        # a silence is decided when an alert starts firing; its repeats keep that decision
        "silenced_by": silenced if changed else (known.silenced_by if known else None),
        "incident_id": known.incident if known else None,
    }
    if not changed:
        deps.store.save_alert(row)
        return "repeat", None
    if row["silenced_by"] is not None and event.status == "firing":
        deps.store.save_alert(row)
        return "silenced", None
    rule = rule_for(deps.settings, source, labels)
    if rule is None or rule.action == "drop":
        deps.store.save_alert(row)
        return ("new" if known is None else "changed"), None
    if rule.action == "post":
        alert_id = deps.store.save_alert(row)
        _post(deps, rule, source, row, storming)
        return ("new" if known is None else "changed"), _note_on_incident(deps, row, alert_id, now)
    number = row["incident_id"]
    closed = number is not None and not _is_open(deps, number)
    if closed:  # its incident is over: firing again starts anew, anything else is history
        number = None
    stormed = False
    if number is None and event.status == "firing":
        number, stormed = _incident_for(deps, rule, source, row, now)
    row["incident_id"] = number if number is not None else row["incident_id"]
    alert_id = deps.store.save_alert(row)
    if number is not None:
        _entry(deps, number, alert_id, source, row, now)
    if stormed and number is not None:
        _taken_in(deps, number, source, row, now)
    return ("new" if known is None else "changed"), number


def _is_open(deps: Deps, number: int) -> bool:
    incident = deps.store.incident(number)
    return incident is not None and incident.is_open


def _group_key(settings: Settings, source: str, event: AlertEvent, labels: dict[str, str]) -> str:
    by = settings.alerts.group_by
    if by:
        return ",".join(f"{key}={labels.get(key, '')}" for key in by)
    return event.group_key or event.fingerprint


def _incident_for(
    deps: Deps, rule: AlertRule, source: str, row: dict[str, Any], now: datetime
) -> tuple[int, bool]:
    """The open incident of this alert's group; else a new one while the source is under its
    cap; else its storm incident (True). Called inside receive's write transaction, so two
    processes on one database count in turn."""
    window = timedelta(minutes=deps.settings.alerts.group_window_minutes)
    joined = deps.store.group_incident(source, row["group_key"], now - window)
    if joined is not None:
        return joined, False
    storm = _storm(deps, source, now)
    if storm is not None:
        return storm, True
    cap, minutes = deps.settings.alerts.incident_cap, deps.settings.alerts.incident_cap_minutes
    opened = deps.store.incidents_marked(OPENED_BY.format(source), now - timedelta(minutes=minutes))
    if opened >= cap:
        return _open_storm(deps, rule, source, opened, now), True
    number = _open(deps, rule, clip(f"{row['summary']} ({source})", 150), now)
    mark = f"Opened by an alert from {source}: {opened + 1} of the {cap} incidents its alerts "
    mark += f"may open in {minutes} min"
    deps.store.add_entry(number, Entry(now, None, "cap", mark, OPENED_BY.format(source)))
    deps.store.set_state(OPENED_KEY.format(number), "1" if not rule.auto_resolve else "auto")
    return number, False


def _open(deps: Deps, rule: AlertRule, title: str, now: datetime, *notes: str) -> int:
    severity = rule.severity if rule.severity in deps.settings.severities else None
    opened = incidents.open_incident(
        deps.store,
        deps.settings,
        title=title,
        severity=severity,
        actor=who(deps.store, deps.settings, now) or "opsbot",  # the on-call person leads
        now=now,
    )
    publish(Outcome(Reply(""), opened, tuple(Reply(note) for note in notes)), deps)
    return opened.number


# Alert storms: past the cap, one incident per source takes in every new group ------------


def _storm(deps: Deps, source: str, now: datetime) -> int | None:
    """The source's storm incident while the storm lasts: it is open, and a new group came
    within the cap's window."""
    stored = deps.store.state(STORM_KEY.format(source))
    if not stored:
        return None
    known = json.loads(stored)
    quiet = now - datetime.fromisoformat(known["last"])
    if quiet > timedelta(minutes=deps.settings.alerts.incident_cap_minutes):
        return None
    number = int(known["incident"])
    return number if _is_open(deps, number) else None


def _open_storm(deps: Deps, rule: AlertRule, source: str, opened: int, now: datetime) -> int:
    """Once per storm, led by the person on call like any incident alerts open. It never
    resolves itself: a storm that paused would otherwise start a second one."""
    cap, minutes = deps.settings.alerts.incident_cap, deps.settings.alerts.incident_cap_minutes
    text = (
        f"Alert storm: alerts from {source} have opened {opened} incidents in the last "
        f"{minutes} min, the cap. New alert groups from {source} join this incident instead "
        f"of opening their own until {minutes} min pass without one; every alert is recorded "
        f"on its timeline. The cap is `incident_cap = {cap}` per `incident_cap_minutes = "
        f"{minutes}` in the `[alerts]` section of the config."
    )
    title = f"Alert storm from {source}: its cap of {cap} incidents in {minutes} min was reached"
    number = _open(deps, rule, clip(title, 150), now, f":cyclone: {text}")
    deps.store.add_entry(number, Entry(now, None, "storm", text, STORM_ENTRY.format(source, 0)))
    deps.store.set_state(OPENED_KEY.format(number), "1")
    return number


def _taken_in(deps: Deps, number: int, source: str, row: dict[str, Any], now: datetime) -> None:
    """A new group joined the storm: its count on the timeline, and the storm goes on."""
    alerts, groups = deps.store.taken_in(number)
    text = (
        f"Alert storm ({source}): group `{clip(row['group_key'], 80)}` taken in; "
        f"{alerts} alerts in {groups} groups so far, past the cap of "
        f"{deps.settings.alerts.incident_cap} incidents in "
        f"{deps.settings.alerts.incident_cap_minutes} min"
    )
    deps.store.add_entry(
        number, Entry(now, None, "storm", text, STORM_ENTRY.format(source, alerts))
    )
    last = {"incident": number, "last": now.isoformat()}
    deps.store.set_state(STORM_KEY.format(source), json.dumps(last))


def _entry(
    deps: Deps, number: int, alert_id: int, source: str, row: dict[str, Any], now: datetime
) -> None:
    verb = {"firing": "firing", "resolved": "resolved", "acknowledged": "acknowledged at source"}
    labels = ", ".join(f"{k}={v}" for k, v in sorted(row["labels"].items())[:6])
    text = f"Alert {verb[row['status']]} ({source}): {row['summary']}" + (
        f" [{labels}]" if labels and row["status"] == "firing" else ""
    )
    sequence = deps.store.alert_changes(alert_id)
    deps.store.add_entry(
        number, Entry(now, None, "alert", text, f"alert:{alert_id}:{row['status']}:{sequence}")
    )


def _note_on_incident(deps: Deps, row: dict[str, Any], alert_id: int, now: datetime) -> int | None:
    number = row["incident_id"]
    if number is not None:
        _entry(deps, number, alert_id, row["source"], row, now)
    return int(number) if number is not None else None


def _all_resolved(deps: Deps, number: int) -> None:
    """Every alert of an incident that alerts opened has resolved: resolve it (the rule's
    auto_resolve) or offer to, once."""
    opened = deps.store.state(OPENED_KEY.format(number))
    incident = deps.store.incident(number)
    if not opened or incident is None or not incident.is_open:
        return
    alerts = deps.store.alerts(firing_only=False, incident=number)
    if not alerts or any(a.status != "resolved" for a in alerts):
        deps.store.set_state(OFFERED_KEY.format(number), "")
        return
    if opened == "auto":
        outcome = resolve(deps, number, "All alerts resolved", actor="opsbot")
        publish(outcome, deps)
        return
    if deps.store.state(OFFERED_KEY.format(number)):
        return
    deps.store.set_state(OFFERED_KEY.format(number), "1")
    text = f"All alerts of {incident.ref} have resolved. Resolve the incident?"
    offer = Reply(
        text,
        blocks=blocks(
            section(f":white_check_mark: {text}"),
            buttons(
                [(STEP_ACTIONS["Resolve"], "Resolve", str(number), "primary")],
                block_id=f"alerts.resolve.{number}",
            ),
        ),
    )
    effects.thread(deps, number, offer)


# Posts, and storms ---------------------------------------------------------------------------


def _post(deps: Deps, rule: AlertRule, source: str, row: dict[str, Any], storming: bool) -> None:
    channel = rule.channel or deps.settings.digest_target
    if storming:
        deps.store.enqueue(
            "alerts.summary", outbox.slack_lane(channel), {"channel": channel}, coalesce=True
        )
        return
    icon = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}.get(
        row["status"], ":eyes:"
    )
    link = f" <{row['url']}|source>" if row.get("url") else ""
    text = f"{icon} *{row['status']}* ({source}) {row['summary']}{link}"
    posting.enqueue_post(deps, channel, {"text": text})


def _summary(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    """One message per channel for the storm, posted once and updated in place."""
    channel = effect.payload["channel"]
    now = deps.clock()
    recent: list[Alert] = []
    for source in {s.name for s in deps.settings.alerts.sources} | {HEARTBEAT_SOURCE}:
        recent += deps.store.recent_alerts(source, now - SUMMARY_QUIET)
    firing = [a for a in recent if a.status == "firing"]
    by_source = collections.Counter(a.source for a in recent)
    lines = [
        f"• {a.source}: {clip(a.summary, 120)}"
        for a in sorted(firing, key=lambda a: a.last_seen, reverse=True)[:10]
    ]
    text = (
        f":cyclone: *Alert storm*: {len(recent)} alerts in the last "
        f"{int(SUMMARY_QUIET.total_seconds() // 60)} min "
        f"({', '.join(f'{s} {n}' for s, n in by_source.most_common())}), "
        f"{len(firing)} firing. Posts are folded here; every alert is recorded and "
        "incidents get each one on their timeline. `/alerts` lists what is firing.\n"
        + "\n".join(lines)
    )
    message: dict[str, Any] = {"text": text, "blocks": [section(text)]}
    stored = deps.store.state(SUMMARY_KEY.format(channel))
    if stored:
        known = json.loads(stored)
        if now - datetime.fromisoformat(known["at"]) < SUMMARY_QUIET:
            try:
                posting.update(slack, known["channel"], known["ts"], message)
            except SlackApiError as exc:  # someone deleted it: a new summary takes its place
                if slack_error(exc) not in posting.MESSAGE_GONE:
                    raise
            else:
                deps.store.set_state(
                    SUMMARY_KEY.format(channel), json.dumps({**known, "at": now.isoformat()})
                )
                return {"channel": known["channel"], "ts": known["ts"]}
    posted = posting.post(deps, effect, slack, channel, message)
    deps.store.set_state(
        SUMMARY_KEY.format(channel),
        json.dumps({"channel": posted["channel"], "ts": posted["ts"], "at": now.isoformat()}),
    )
    return posted


# Heartbeats ----------------------------------------------------------------------------------


def beat(deps: Deps, name: str, now: datetime) -> None:
    """A beat: recorded; the first after a miss resolves the miss's alert."""
    missed = deps.store.beat(name, now)
    if missed is not None:
        event = AlertEvent(fingerprint=name, status="resolved", summary="", group_key=name)
        receive(deps, HEARTBEAT_SOURCE, [event], now)


def check_heartbeats(deps: Deps, now: datetime) -> list[str]:
    """Each configured heartbeat past its interval and grace: one alert, once per miss."""
    late = []
    for heartbeat in deps.settings.heartbeats:
        known = deps.store.heartbeat(heartbeat.name)
        if known is None or known["last_beat"] is None:
            deps.store.beat(heartbeat.name, now)  # watched from now on
            continue
        due = known["last_beat"] + timedelta(
            minutes=heartbeat.interval_minutes + heartbeat.grace_minutes
        )
        if now > due and deps.store.mark_missed(heartbeat.name, due):
            late.append(heartbeat.name)
            receive(deps, HEARTBEAT_SOURCE, [_missed(heartbeat, known["last_beat"])], now)
    return late


def _missed(heartbeat: Heartbeat, last: datetime) -> AlertEvent:
    return AlertEvent(
        fingerprint=heartbeat.name,
        status="firing",
        summary=f"Heartbeat `{heartbeat.name}` missed: no beat since {last:%Y-%m-%d %H:%M} UTC",
        labels={"severity": heartbeat.severity, "heartbeat": heartbeat.name},
        group_key=heartbeat.name,
    )


# How the rows this module owes are delivered, for the composition root's table.
KINDS = {"alerts.summary": outbox.Kind(_summary, "An alert storm's summary", paced=True)}
