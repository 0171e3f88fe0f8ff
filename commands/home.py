"""The App Home tab: current health, who is on call, open incidents, backups, next jobs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.deps import Deps
from bot.domain.health import CHECKS, ICON
from bot.domain.incidents.card import DECLARE_FORM
from bot.domain.incidents.texts import incident_summary
from bot.domain.oncall import status
from bot.replies import blocks, buttons, divider, header, mention, section, when
from bot.store.base import SETUP_CHECKS_KEY
from bot.surface import Surface


def register(app: App) -> None:
    app.event("app_home_opened")(on_home_opened)


def on_home_opened(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
    if event.get("tab") not in (None, "home"):
        return
    deps: Deps = context["deps"]
    client.views_publish(user_id=event["user"], view=home_view(deps, event["user"]))


def _delivery(deps: Deps) -> str:
    """The outbox's backlog: what opsbot still owes Slack and third parties."""
    owed = deps.store.outbox.outbox_summary(deps.outbox.clock())
    if not owed["pending"] and not owed["dead"]:
        return "*Delivery:* every post and page has gone out."
    dead = f", {owed['dead']} given up on (`opsbot outbox`)" if owed["dead"] else ""
    return (
        f"*Delivery:* {owed['pending']} waiting, the oldest for "
        f"{owed['oldest_seconds']:.0f} s{dead}."
    )


def _setup(deps: Deps) -> str | None:
    """What `opsbot serve` found wrong with its setup at start (`opsbot doctor`'s quick checks)."""
    stored = deps.store.state(SETUP_CHECKS_KEY)
    if not stored:
        return None
    failed = [r for r in json.loads(stored) if r["state"] == "fail"]
    if not failed:
        return "*Setup:* every check at start passed (`opsbot doctor` runs them all)."
    lines = [f"• {r['check']}: {r['detail']}. Fix: {r['fix']}" for r in failed]
    return "*Setup problems found at start:*\n" + "\n".join(lines)


def home_view(deps: Deps, user: str) -> dict[str, Any]:
    now, tz = deps.clock(), deps.settings.tz
    health = []
    for check in CHECKS:
        rows = deps.store.health.readings(check, now - timedelta(hours=1))
        if rows:
            last = rows[-1]
            health.append(f"{ICON[last.state]} *{check}*: {last.summary}")
    oncall = status(deps.store, deps.settings, now, user)
    who = (
        f"{mention(oncall.now.user)} until {when(oncall.now.end, tz)}"
        if oncall.now
        else "no rotation set (`/oncall set`)"
    )
    incidents = deps.store.incidents.find(open_only=True, limit=10)
    open_count = deps.store.incidents.count_incidents(open_only=True)
    upcoming = deps.next_jobs(deps, now) if deps.next_jobs is not None else []
    return {
        "type": "home",
        "blocks": blocks(
            header("opsbot"),
            buttons(
                [(DECLARE_FORM, "Declare an incident", "home", "danger")],
                block_id="home.declare",
            ),
            section(
                "*Health* (the monitor's last readings)\n"
                + ("\n".join(health) or "No readings in the last hour.")
            ),
            section(f"*On call:* {who}"),
            section(
                "*Open incidents*\n"
                + (
                    "\n".join(f"• {line}" for line in incident_summary(incidents, open_count))
                    or "None."
                )
            ),
            section("*Backups:* none recorded by opsbot yet."),
            section(_delivery(deps)),
            section(setup) if (setup := _setup(deps)) else None,
            divider(),
            section(
                "*Next scheduled jobs*\n"
                + "\n".join(f"• {name}: {when(fire, tz)}" for fire, name in upcoming[:8])
            ),
        ),
    }


SURFACE = Surface(register=register)
