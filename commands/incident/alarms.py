"""What happens when an incident's timer comes due (see timers.py for when that is).

Each alarm runs in one transaction: what it records, the effects it owes (outbox rows) and
the re-arming of its timer commit together, so a crash neither loses a page nor sends it
twice, and a Slack failure delays the page's delivery but never cancels it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.deps import Deps
from bot.replies import Reply, mention, span
from bot.store import Entry, Incident, Timer
from commands.incident import effects, render, service, timers
from commands.oncall.service import who


def fire(deps: Deps, timer: Timer, now: datetime) -> str:
    """Run one due timer, in one transaction; says what it did."""
    with deps.store.atomic():
        incident = deps.store.incident(timer.incident)
        if incident is None or not incident.is_open:
            service.rearm(deps.store, timer.incident, timer.kind, None)
            return f"INC-{timer.incident}: {timer.kind} disarmed (resolved)"
        return ALARMS[timer.kind](deps, incident, now)


def _breach(deps: Deps, incident: Incident, now: datetime) -> str:
    changed = service.breach(deps.store, deps.settings, incident.number, now=now)
    if changed is None:
        return f"{incident.ref}: response target no longer applies"
    effects.card(deps, incident.number)
    oncall = who(deps.store, deps.settings, now)
    person, role = (oncall, "on call") if oncall else (incident.commander, "commander")
    target = span(service.response_target(incident, deps.settings))
    summary = (
        f"{incident.ref} ({incident.severity}) {incident.title}: not acknowledged "
        f"within its {target} response target"
    )
    _page(deps, changed.incident, person, role, summary, now)
    effects.pager(deps, changed.incident, "trigger", summary)
    return f"{incident.ref}: response target missed, paged {role}"


def _escalate(deps: Deps, incident: Incident, now: datetime) -> str:
    """The paged person did not acknowledge in time: page the escalation contact."""
    manager = deps.settings.oncall.escalation
    if incident.acked_at is None and manager:
        summary = (
            f"{incident.ref} ({incident.severity}) {incident.title}: still not "
            f"acknowledged {span(now - incident.opened_at)} after it opened"
        )
        _page(deps, incident, manager, "escalation", summary, now)
    service.rearm(deps.store, incident.number, timers.ESCALATE, None)
    return f"{incident.ref}: escalated to the escalation contact"


def _page(
    deps: Deps, incident: Incident, person: str, role: str, summary: str, now: datetime
) -> None:
    """The page's rows and its timeline line, in the alarm's transaction."""
    text = (
        f":rotating_light: *Page:* {summary}. Press Acknowledge on the card or "
        f"`/incident ack {incident.ref}`."
    )
    effects.page(deps, incident, person, text)
    entry = Entry(
        now,
        None,
        "page",
        f"Paged {mention(person)} ({role}) by mention and DM",
        f"page:{role}:{person}",
    )
    deps.store.add_entry(incident.number, entry)


def _refresh(deps: Deps, incident: Incident, now: datetime) -> str:
    effects.card(deps, incident.number)
    service.rearm(
        deps.store,
        incident.number,
        timers.CARD_REFRESH,
        timers.next_refresh(incident, deps.settings, now),
    )
    return f"{incident.ref}: card refreshed"


def _status_reminder(deps: Deps, incident: Incident, now: datetime) -> str:
    effects.remind(deps, incident, render.render_reminder(incident, deps.settings, now))
    every = timedelta(minutes=deps.settings.reminders.status_update_minutes)
    service.rearm(deps.store, incident.number, timers.STATUS_REMINDER, now + every)
    return f"{incident.ref}: status update reminder sent to the commander"


def _still_open(deps: Deps, incident: Incident, now: datetime) -> str:
    effects.thread(deps, incident.number, render.render_still_open(incident, now))
    due = timers.next_working_slot(now + timedelta(days=1), deps.settings)
    service.rearm(deps.store, incident.number, timers.STILL_OPEN, due)
    return f"{incident.ref}: still-open nudge posted"


def _public_update_due(deps: Deps, incident: Incident, now: datetime) -> str:
    """P0/P1: the plan wants a public update within 15 minutes, then every 30."""
    last = deps.store.public_updates(incident.number)
    since = f"the last one was {span(now - last[-1]['at'])} ago" if last else "none yet"
    reminder = Reply(
        f":loudspeaker: {incident.ref} ({incident.severity}): a public status update "
        f"is due ({since}). `/incident public {incident.ref} <text>`"
    )
    effects.remind(deps, incident, reminder)
    every = timedelta(minutes=deps.settings.status_page.update_every_minutes)
    service.rearm(deps.store, incident.number, timers.PUBLIC_UPDATE, now + every)
    return f"{incident.ref}: public update reminder sent"


def _auto_notice(deps: Deps, incident: Incident, now: datetime) -> str:
    """An outage past the configured length: users get the ongoing notice."""
    effects.notice(deps, incident, entry="User notice sent (outage over an hour)")
    service.rearm(deps.store, incident.number, timers.AUTO_NOTICE, None)
    return f"{incident.ref}: ongoing notice sent"


ALARMS: dict[str, Callable[[Deps, Incident, datetime], str]] = {
    timers.ACK_DEADLINE: _breach,
    timers.CARD_REFRESH: _refresh,
    timers.STATUS_REMINDER: _status_reminder,
    timers.STILL_OPEN: _still_open,
    timers.ESCALATE: _escalate,
    timers.PUBLIC_UPDATE: _public_update_due,
    timers.AUTO_NOTICE: _auto_notice,
}
