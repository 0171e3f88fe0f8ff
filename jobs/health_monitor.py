"""health-monitor: run the health checks every minute, keep the readings, and tell the
channel when a check enters warning or critical and when it recovers (one message per
episode, updated in place)."""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.domain.health import run_all
from commands.health.monitor import step


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    readings = run_all(deps.settings, http=deps.http, mongo=deps.mongo)
    if dry_run:
        return "; ".join(f"{r.check} {r.state}: {r.summary}" for r in readings)
    said = step(deps, readings, now)
    return "; ".join(said) or "No change: " + ", ".join(f"{r.check} {r.state}" for r in readings)
