"""card-sync: owe a card to any open incident that has none and none on the way.

An incident's card is an outbox row committed with the incident, so it is never lost; this
job covers what the outbox cannot know: a database from before the outbox, or a card row
given up on after Slack refused it for too long. Runs at start-up and every minute.
"""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from commands.incident import effects


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    missing = [
        incident
        for incident in deps.store.incidents_without_card()
        if not deps.store.has_pending(incident.number, "incident.card")
    ]
    if not missing:
        return "Every open incident has its card."
    refs = ", ".join(incident.ref for incident in missing)
    if dry_run:
        return f"Would post the card of {refs}."
    with deps.store.atomic():
        for incident in missing:
            effects.card(deps, incident.number)
    return f"Card of {refs} queued for posting."
