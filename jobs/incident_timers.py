"""incident-timers: fire every incident timer that is due (escalation on a missed response
target, card countdown refresh, status-update reminders, still-open nudges).

Runs every 30 seconds and at start-up, so a timer that fell due while the bot was down fires
at once. The most severe incidents' timers fire first: with hundreds of P2s past their
target, a P0's page must not wait for all of theirs to be written.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.deps import Deps
from bot.domain.incidents.alarms import fire

log = logging.getLogger(__name__)


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    order = list(deps.settings.severities)
    due = sorted(
        deps.store.incidents.due_timers(now),
        key=lambda t: order.index(t.severity) if t.severity in order else len(order),
    )  # a stable sort: oldest first within a severity
    if not due:
        return "No incident timer is due."
    if dry_run:
        return "Would fire: " + ", ".join(f"INC-{t.incident} {t.kind}" for t in due)
    done = []
    for timer in due:
        try:
            done.append(fire(deps, timer, now))
        except Exception:  # one failing timer must not hold up the others; it fires again
            log.exception("timer %s of INC-%s failed", timer.kind, timer.incident)
            done.append(f"INC-{timer.incident}: {timer.kind} failed, will retry")
    return "; ".join(done)
