"""incident-timers: fire every incident timer that is due (escalation on a missed response
target, card countdown refresh, status-update reminders, still-open nudges).

Runs every 30 seconds and at start-up, so a timer that fell due while the bot was down fires
at once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.deps import Deps
from bot.domain.incidents.alarms import fire

log = logging.getLogger(__name__)


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    due = deps.store.incidents.due_timers(now)
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
