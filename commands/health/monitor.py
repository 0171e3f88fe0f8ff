"""The monitor's rules: "for N minutes" conditions, one alert per episode, recovery with
hysteresis, and a P0 when the API is down. `step` is called with each round of readings."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import posting
from bot.deps import Deps
from bot.domain.health import (
    CRITICAL,
    NOT_CONFIGURED,
    OK,
    RANK,
    WARNING,
    Reading,
    service_monitored,
)
from bot.domain.incidents import service as incidents
from bot.domain.incidents.outcome import Outcome, publish
from bot.domain.oncall import who
from bot.replies import Reply, span
from bot.store import Entry, Episode
from commands.health import render

INCIDENT_KEY = "health.incident.api"  # the open incident the API-down alerts feed
LAST_RUN_KEY = "health.monitor.last_run"
FIRST_RUN_KEY = "health.monitor.first_run"


def sustained(deps: Deps, reading: Reading, now: datetime) -> str:
    """The state that counts: CPU is only a warning after N minutes above the line."""
    if reading.check != "cpu" or reading.state != WARNING:
        return reading.state
    minutes = deps.settings.thresholds.cpu_warning_minutes
    window = deps.store.health.readings("cpu", now - timedelta(minutes=minutes, seconds=30))
    began = now - timedelta(minutes=minutes)
    covered = bool(window) and window[0].at <= began + timedelta(seconds=30)
    return WARNING if covered and all(r.state == WARNING for r in window) else OK


def step(deps: Deps, readings: list[Reading], now: datetime) -> list[str]:
    """Store this round, then open, update or close each check's alert episode."""
    keep = timedelta(days=deps.settings.health.retention_days)
    deps.store.health.add_readings(
        now, [(r.check, r.state, r.value, r.summary) for r in readings], keep
    )
    said = []
    for reading in readings:
        if reading.state == NOT_CONFIGURED:
            continue
        state = sustained(deps, reading, now)
        episode = deps.store.health.open_episode(reading.check)
        if RANK[state] >= RANK[WARNING]:
            said.append(_alerting(deps, reading, state, episode, now))
        elif episode is not None:
            said.append(_recovering(deps, reading, episode, now))
    deps.store.set_state(LAST_RUN_KEY, now.isoformat())
    if service_monitored(readings) and deps.store.state(FIRST_RUN_KEY) is None:
        # The status page's history starts the day Prompt-Base itself was first checked.
        deps.store.set_state(FIRST_RUN_KEY, now.isoformat())
    return [line for line in said if line]


def _alerting(
    deps: Deps, reading: Reading, state: str, episode: Episode | None, now: datetime
) -> str:
    reply = render.render_alert(reading, state, now, deps.settings)
    channel = deps.settings.digest_target
    if episode is None:
        posted = deps.post_now(channel, reply)
        deps.store.health.save_episode(
            {
                "check_name": reading.check,
                "state": state,
                "started_at": now.isoformat(),
                "channel": posted["channel"],
                "ts": posted["ts"],
                "ok_streak": 0,
            }
        )
        if reading.check == "api" and state == CRITICAL:
            _service_down(deps, reading, now)
        return f"{reading.check}: {state} alert posted"
    if episode.state != state or episode.ok_streak:
        _update(deps, episode, reply)
        deps.store.health.save_episode({"id": episode.id, "state": state, "ok_streak": 0})
        return f"{reading.check}: alert now {state}"
    return ""


def _recovering(deps: Deps, reading: Reading, episode: Episode, now: datetime) -> str:
    streak = episode.ok_streak + 1
    if streak < deps.settings.health.recovery_readings:  # hysteresis: one good reading is not
        deps.store.health.save_episode({"id": episode.id, "ok_streak": streak})  # a recovery
        return ""
    text = (
        f":white_check_mark: *{reading.check}* recovered after "
        f"{span(now - episode.started_at)}: {reading.summary}"
    )
    _update(deps, episode, Reply(text))
    deps.post_now(episode.channel, Reply(text), thread_ts=episode.ts)
    deps.store.health.save_episode(
        {"id": episode.id, "ended_at": now.isoformat(), "ok_streak": streak, "state": OK}
    )
    return f"{reading.check}: recovered"


def _update(deps: Deps, episode: Episode, reply: Reply) -> None:
    posting.enqueue_update(deps, episode.channel, episode.ts, reply.as_message())


def _service_down(deps: Deps, reading: Reading, now: datetime) -> None:
    """API down: a P0, or a timeline entry on the incident already open for it."""
    if not deps.settings.health.open_incident_when_down:
        return
    known = deps.store.state(INCIDENT_KEY)
    incident = deps.store.incidents.incident(int(known)) if known else None
    if incident is not None and incident.is_open:
        deps.store.incidents.add_entry(
            incident.number, Entry(now, None, "update", f"Health monitor: {reading.summary}")
        )
        return
    opener = who(deps.store, deps.settings, now) or "opsbot"
    with deps.store.atomic():
        opened = incidents.open_incident(
            deps.store,
            deps.settings,
            title=f"Prompt-Base API down ({reading.summary})",
            severity="P0",
            actor=opener,
            now=now,
            via="monitor",
        )
        deps.store.set_state(INCIDENT_KEY, str(opened.number))
        publish(Outcome(Reply(""), opened), deps)


__all__ = ["step", "sustained", "OK"]
