"""card-sync: post the card of any open incident that has none.

An incident is committed before Slack is told; if the process dies in between (or Slack was
down), this job finds the incident without a card and announces it. Runs at start-up and
every minute.
"""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from commands.incident.handlers import sync_card


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    missing = deps.store.incidents_without_card()
    if not missing:
        return "Every open incident has its card."
    refs = ", ".join(incident.ref for incident in missing)
    if dry_run:
        return f"Would post the card of {refs}."
    for incident in missing:
        # Through the outbox, like every other card update, so they never cross.
        deps.outbox.submit(sync_card, deps, incident.number).result()
    return f"Posted the card of {refs}."
