"""Alert storms: the cap on the incidents one source's alerts open in a window (counted in the
database, so every process sees the same), the one storm incident that takes in the rest,
and the folding of a noisy source's posts into one summary per channel."""

from __future__ import annotations

import collections
import json
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import posting
from bot.alert_settings import AlertRule
from bot.deps import Deps
from bot.domain.incidents import service as incidents
from bot.domain.incidents.outcome import Outcome, publish
from bot.domain.oncall import who
from bot.failures import slack_error
from bot.kinds import Kind
from bot.lanes import slack_lane
from bot.replies import Reply, clip, section
from bot.store import Alert, Entry
from bot.store.outbox import Effect

OPENED_KEY = "alerts.opened.{}"  # an incident opened by alerts (auto-resolve applies to it)
HEARTBEAT_SOURCE = "heartbeat"
OPENED_BY = "alerts-opened:{}"  # the timeline mark of an incident a source's alerts opened


STORM_KEY = "alerts.storm.{}"  # a source's storm incident: {"incident": n, "last": a group in}


STORM_ENTRY = "alert-storm:{}:{}"  # the storm incident's entries: source, alerts taken in


SUMMARY_KEY = "alerts.summary.{}"  # a channel's storm summary message: channel, ts, since


SUMMARY_QUIET = timedelta(minutes=10)  # a storm this long over: the next gets a new message


def incident_for(
    deps: Deps, rule: AlertRule, source: str, row: dict[str, Any], now: datetime
) -> tuple[int, bool]:
    """The open incident of this alert's group; else a new one while the source is under its
    cap; else its storm incident (True). Called inside receive's write transaction, so two
    processes on one database count in turn."""
    window = timedelta(minutes=deps.settings.alerts.group_window_minutes)
    joined = deps.store.alerts.group_incident(source, row["group_key"], now - window)
    if joined is not None:
        return joined, False
    storm = _storm(deps, source, now)
    if storm is not None:
        return storm, True
    cap, minutes = deps.settings.alerts.incident_cap, deps.settings.alerts.incident_cap_minutes
    opened = deps.store.incidents.incidents_marked(
        OPENED_BY.format(source), now - timedelta(minutes=minutes)
    )
    if opened >= cap:
        return _open_storm(deps, rule, source, opened, now), True
    number = _open(deps, rule, clip(f"{row['summary']} ({source})", 150), now)
    mark = f"Opened by an alert from {source}: {opened + 1} of the {cap} incidents its alerts "
    mark += f"may open in {minutes} min"
    deps.store.incidents.add_entry(number, Entry(now, None, "cap", mark, OPENED_BY.format(source)))
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
        via="alerts",
    )
    publish(Outcome(Reply(""), opened, tuple(Reply(note) for note in notes)), deps)
    return opened.number


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
    return number if is_open(deps, number) else None


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
    deps.store.incidents.add_entry(
        number, Entry(now, None, "storm", text, STORM_ENTRY.format(source, 0))
    )
    deps.store.set_state(OPENED_KEY.format(number), "1")
    return number


def taken_in(deps: Deps, number: int, source: str, row: dict[str, Any], now: datetime) -> None:
    """A new group joined the storm: its count on the timeline, and the storm goes on."""
    alerts, groups = deps.store.alerts.taken_in(number)
    text = (
        f"Alert storm ({source}): group `{clip(row['group_key'], 80)}` taken in; "
        f"{alerts} alerts in {groups} groups so far, past the cap of "
        f"{deps.settings.alerts.incident_cap} incidents in "
        f"{deps.settings.alerts.incident_cap_minutes} min"
    )
    deps.store.incidents.add_entry(
        number, Entry(now, None, "storm", text, STORM_ENTRY.format(source, alerts))
    )
    last = {"incident": number, "last": now.isoformat()}
    deps.store.set_state(STORM_KEY.format(source), json.dumps(last))


def post_alert(
    deps: Deps, rule: AlertRule, source: str, row: dict[str, Any], storming: bool
) -> None:
    channel = rule.channel or deps.settings.digest_target
    if storming:
        deps.store.outbox.enqueue(
            "alerts.summary", slack_lane(channel), {"channel": channel}, coalesce=True
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
        recent += deps.store.alerts.recent_alerts(source, now - SUMMARY_QUIET)
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


# How the rows this module owes are delivered, for the composition root's table.
KINDS = {"alerts.summary": Kind(_summary, "An alert storm's summary", paced=True)}


def is_open(deps: Deps, number: int) -> bool:
    incident = deps.store.incidents.incident(number)
    return incident is not None and incident.is_open
