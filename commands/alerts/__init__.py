"""/alerts: what is firing, silences and maintenance windows. The intake endpoints are in
http.py (served by bot/server.py), the rules in service.py, the payloads in intake.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App

from bot.deps import Deps
from bot.replies import Reply, UserError, clip, mention, span
from bot.surface import Route, Surface
from commands.alerts import http, storms

USAGE = (
    "*Usage:* `/alerts` (firing, by source) · `/alerts silence <key=value>… <2h|until "
    "YYYY-MM-DD HH:MM> <reason>` · `/alerts silences` · `/alerts unsilence S3` · "
    "`/alerts maintenance <component> <2h|until YYYY-MM-DD HH:MM> <text>` · `/alerts help`"
)
_MATCHER = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)=(\S+)$")
_SPAN = re.compile(r"^(\d{1,4})([mhd])$")
_UNTIL = re.compile(r"^until\s+(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}):(\d{2}))?\s*", re.IGNORECASE)
_ID = re.compile(r"^[SM]?(\d{1,18})$", re.IGNORECASE)  # more digits than SQLite stores: no id
MAX_SILENCE = timedelta(days=14)


def register(app: App) -> None:
    app.command("/alerts")(handle)


def handle(ack: Ack, command: dict[str, Any], context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    text, actor = " ".join(command.get("text", "").split()), command["user_id"]
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    now = deps.clock()
    if verb in ("", "list"):
        reply = firing(deps)
    elif verb == "help":
        reply = Reply(USAGE)
    elif verb == "silences":
        reply = silences(deps, now)
    elif verb in ("silence", "maintenance"):
        reply = add(deps, verb, rest, actor, now)
    elif verb == "unsilence":
        match = _ID.match(rest.strip())
        if not match:
            raise UserError("Name the silence: `/alerts unsilence S3`.", USAGE)
        if not deps.store.alerts.end_silence(int(match.group(1)), now):
            raise UserError(f"There is no silence S{match.group(1)} in force.")
        reply = Reply(
            f":loud_sound: Silence S{match.group(1)} ended by {mention(actor)}.", public=True
        )
    else:
        raise UserError(f"Unknown subcommand `{verb}`.", USAGE)
    ack(**reply.as_response())


def firing(deps: Deps) -> Reply:
    alerts = deps.store.alerts.find(firing_only=True)
    if not alerts:
        return Reply(":white_check_mark: No alert is firing.")
    lines: list[str] = []
    for source in sorted({a.source for a in alerts}):
        mine = [a for a in alerts if a.source == source]
        lines.append(f"*{source}* ({len(mine)} firing)")
        for alert in mine[:15]:
            where = f" → INC-{alert.incident}" if alert.incident else ""
            muted = f" (silenced by S{alert.silenced_by})" if alert.silenced_by else ""
            repeats = f", {alert.repeats} repeats" if alert.repeats else ""
            lines.append(f"• {clip(alert.summary, 120)}{where}{muted}{repeats}")
        if len(mine) > 15:
            lines.append(f"…and {len(mine) - 15} more")
    return Reply("\n".join(lines))


def silences(deps: Deps, now: datetime) -> Reply:
    found = deps.store.alerts.silences(now)
    if not found:
        return Reply("No silence or maintenance window is in force or planned.")
    lines = []
    for silence in found:
        what = " ".join(f"{k}={v}" for k, v in silence.matchers.items())
        label = "M" if silence.kind == "maintenance" else "S"
        lines.append(
            f"• *{label}{silence.id}* {what} until {silence.ends_at:%Y-%m-%d %H:%M} UTC "
            f"({span(silence.ends_at - now)} left) by {mention(silence.created_by)}: "
            f"{silence.reason}"
        )
    return Reply("\n".join(lines))


def add(deps: Deps, verb: str, rest: str, actor: str, now: datetime) -> Reply:
    words = rest.split(" ") if rest else []
    matchers: dict[str, str] = {}
    if verb == "maintenance":
        if not words:
            raise UserError("Name the component: `/alerts maintenance API 2h Upgrading`.", USAGE)
        component = words.pop(0)
        matchers["component"] = component
    else:
        while words and (found := _MATCHER.match(words[0])):
            matchers[found.group(1)] = found.group(2)
            words.pop(0)
        if not matchers:
            raise UserError(
                "Say what to silence: `/alerts silence source=grafana severity=warning 2h "
                "Planned upgrade`.",
                USAGE,
            )
    ends, words = _until(" ".join(words), now, deps)
    reason = " ".join(words).strip()
    if not reason:
        raise UserError("Give a reason: it is shown wherever the silence is.", USAGE)
    if ends - now > MAX_SILENCE:
        raise UserError("At most 14 days; silence again when it ends.")
    silence_id = deps.store.alerts.add_silence(
        {
            "kind": verb,
            "matchers": matchers,
            "starts_at": now,
            "ends_at": ends,
            "reason": clip(reason, 300),
            "component": matchers.get("component") if verb == "maintenance" else None,
            "created_by": actor,
            "created_at": now,
        }
    )
    what = " ".join(f"{k}={v}" for k, v in matchers.items())
    label = "M" if verb == "maintenance" else "S"
    shown = " It is on the status page." if verb == "maintenance" else ""
    return Reply(
        f":mute: {label}{silence_id}: alerts matching {what} are recorded but neither post "
        f"nor page until {ends:%Y-%m-%d %H:%M} UTC ({mention(actor)}: {clip(reason, 300)})."
        f"{shown}",
        public=True,
    )


def _until(text: str, now: datetime, deps: Deps) -> tuple[datetime, list[str]]:
    words = text.split()
    if words and (found := _SPAN.match(words[0])):
        unit = {"m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
        return now + timedelta(**{unit: int(found.group(1))}), words[1:]
    if found := _UNTIL.match(text):
        hour, minute = int(found.group(2) or 0), int(found.group(3) or 0)
        try:
            day = datetime.fromisoformat(found.group(1))
            ends = day.replace(hour=hour, minute=minute, tzinfo=deps.settings.tz)
        except ValueError:
            raise UserError(f"`{found.group(0).strip()}` is not a date and time.") from None
        if ends <= now:
            raise UserError("That time has passed.")
        return ends, text[found.end() :].split()
    raise UserError("Say for how long: `2h`, `30m`, `1d` or `until 2026-12-03 18:00`.", USAGE)


SURFACE = Surface(
    register=register,
    command="/alerts",
    routes=(
        Route("/alerts/", ("POST",), http.serve),
        Route("/heartbeat/", ("POST",), http.serve),
    ),
    kinds=storms.KINDS,
)
