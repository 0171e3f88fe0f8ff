"""card-sync: owe a card to any open incident that has none and none on the way.

An incident's card is an outbox row committed with the incident, so it is never lost; this
job covers what the outbox cannot know: a database from before the outbox, or a card row
given up on after Slack failed for too long. A card Slack refused for good (its channel is
archived or gone) is not queued again: it would be refused again, every minute; `opsbot
outbox retry` sends it once the channel is fixed. Runs at start-up and every minute.
"""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.domain.incidents import effects


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    missing = [
        incident
        for incident in deps.store.incidents.incidents_without_card()
        if not _owed_or_refused(deps, incident.number)
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


def _owed_or_refused(deps: Deps, number: int) -> bool:
    latest = deps.store.outbox.latest_effect(number, "incident.card")
    return latest is not None and latest.state in ("pending", "refused")
