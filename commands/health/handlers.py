"""Slack edge of /health: ack at once, probe in the background, replace the answer."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import Deps, tell
from bot.domain import maintenance
from bot.domain.audit import render as security_render
from bot.domain.audit import service as security_service
from bot.domain.health import CHECKS, Reading, run_all
from bot.replies import Reply, UserError
from commands.health import render

USAGE = (
    "*Usage:* `/health` (every check) · `/health <check>` (one of "
    f"{', '.join(CHECKS)}) · `/health history` (last 24 h) · "
    "`/health log [YYYY-MM]` (the maintenance log) · `/health security` (the security audit, "
    "now) · `/health help`"
)
_MONTH = re.compile(r"^log(?:\s+(\d{4})-(\d{2}))?$")


def parse(text: str) -> str:
    word = " ".join(text.strip().lower().split())
    if word in ("", "help", "history", "security", *CHECKS) or _MONTH.match(word):
        return word
    raise UserError(f"Unknown check `{word}`.", USAGE)


def handle(ack: Ack, command: dict[str, Any], respond: Respond, context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    what = parse(command.get("text", ""))
    if what == "help":
        ack(**Reply(USAGE).as_response())
        return
    if what == "history":
        ack(**history(deps).as_response())
        return
    if month := _MONTH.match(what):
        ack(**log_reply(deps, month).as_response())
        return
    if what == "security":
        deps.pools.probes.check()
        ack(**Reply(":hourglass: Running the security audit…").as_response())
        deps.in_background(
            deps.pools.probes,
            lambda: respond(replace_original=True, **audit(deps).as_response()),
            respond,
        )
        return
    # Everyone asking while a probe run is in flight (or just after) shares its readings:
    # a hundred /health during an outage cost one run, and nobody waits behind the others.
    ack(**Reply(":hourglass: Checking Prompt-Base…").as_response())
    shared = deps.pools.shared("health", lambda: readings_now(deps))
    shared.request(
        lambda readings: respond(
            replace_original=True, **answer(deps, what, readings).as_response()
        ),
        lambda exc: tell(exc, respond),
    )


def readings_now(deps: Deps) -> list[Reading]:
    return run_all(deps.settings, http=deps.http, mongo=deps.mongo)


def answer(deps: Deps, what: str, readings: list[Reading]) -> Reply:
    now = deps.clock()
    if what:
        reading = next(r for r in readings if r.check == what)
        return render.render_detail(
            reading, deps.store.health.readings(what, now - timedelta(hours=2)), deps.settings
        )
    return render.render_card(readings, _histories(deps, readings, now), now, deps.settings)


def _histories(deps: Deps, readings: list[Reading], now: datetime) -> dict[str, list[float | None]]:
    since = now - timedelta(hours=2)
    return {
        r.check: [row.value for row in deps.store.health.readings(r.check, since)] + [r.value]
        for r in readings
    }


def history(deps: Deps) -> Reply:
    since = deps.clock() - timedelta(hours=24)
    return render.render_history(
        {c: deps.store.health.readings(c, since) for c in CHECKS}, deps.settings
    )


def log_reply(deps: Deps, month: re.Match[str]) -> Reply:
    """The plan's Maintenance Log for a month (this one by default), from recorded reviews."""
    local = deps.clock().astimezone(deps.settings.tz)
    year, number = (
        (int(month.group(1)), int(month.group(2))) if month.group(1) else (local.year, local.month)
    )
    if not 1 <= number <= 12:
        raise UserError(f"There is no month {number}.", USAGE)
    return Reply(f"```\n{maintenance.maintenance_log(deps, year, number)}\n```")


def audit(deps: Deps) -> Reply:
    now = deps.clock()
    results, seen = security_service.run_audit(deps, now)
    return security_render.render_audit(results, seen, now.astimezone(deps.settings.tz))
