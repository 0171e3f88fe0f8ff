"""What happens when an incident's timer comes due (see timers.py for when that is).

Each alarm runs in one transaction: what it records, the effects it owes (outbox rows) and
the re-arming of its timer commit together, so a crash neither loses a page nor sends it
twice, and a Slack failure delays the page's delivery but never cancels it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.config import Settings
from bot.deps import Deps
from bot.domain.incidents import effects, outside, room, service, targets, texts, timers
from bot.domain.oncall import who
from bot.replies import Reply, mention, span
from bot.store import Change, Changed, Entry, Incident, Store, Timer


def fire(deps: Deps, timer: Timer, now: datetime) -> str:
    """Run one due timer, in one transaction; says what it did."""
    with deps.store.atomic():
        incident = deps.store.incidents.incident(timer.incident)
        if incident is not None and timer.kind == room.ARCHIVE:  # due after the resolution
            return room.archive_if_quiet(deps, incident, now)
        if incident is None or not incident.is_open:
            service.rearm(deps.store, timer.incident, timer.kind, None)
            return f"INC-{timer.incident}: {timer.kind} disarmed (resolved)"
        return ALARMS[timer.kind](deps, incident, now)


def breach(store: Store, settings: Settings, number: int, *, now: datetime) -> Changed | None:
    """The response target passed: record it once. None if it no longer applies."""
    outcome: list[bool] = []

    def decide(incident: Incident) -> Change:
        off: timers.Timers = {timers.ACK_DEADLINE: None}
        if not incident.is_open or incident.acked_at or incident.breached_at:
            return Change(timers=off)
        if now < targets.ack_deadline(incident, settings):  # severity lowered since it was armed
            return Change(timers={timers.ACK_DEADLINE: targets.ack_deadline(incident, settings)})
        outcome.append(True)
        target = span(targets.response_target(incident, settings))
        text = f"Response target of {target} passed without acknowledgement; escalating"
        if settings.oncall.escalation:  # the next link of the chain, if there is one
            delay = timedelta(minutes=settings.oncall.escalation_delay_minutes)
            off[timers.ESCALATE] = now + delay
        fields = {"breached_at": now, **targets.judge(incident, settings, False)}
        return Change(fields, (Entry(now, None, "breach", text),), off)

    changed = store.incidents.change_incident(number, decide)
    return changed if outcome else None


def _breach(deps: Deps, incident: Incident, now: datetime) -> str:
    changed = breach(deps.store, deps.settings, incident.number, now=now)
    if changed is None:
        return f"{incident.ref}: response target no longer applies"
    effects.card(deps, incident.number)
    oncall = who(deps.store, deps.settings, now)
    person, role = (oncall, "on call") if oncall else (incident.commander, "commander")
    target = span(targets.response_target(incident, deps.settings))
    summary = (
        f"{incident.ref} ({incident.severity}) {incident.title}: not acknowledged "
        f"within its {target} response target"
    )
    _page(deps, changed.incident, person, role, summary, now)
    outside.pager(deps, changed.incident, "trigger", summary)
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
    deps.store.incidents.add_entry(incident.number, entry)


def _refresh(deps: Deps, incident: Incident, now: datetime) -> str:
    effects.card(deps, incident.number)
    service.rearm(
        deps.store,
        incident.number,
        timers.CARD_REFRESH,
        timers.next_refresh(incident, deps.settings, now),
    )
    return f"{incident.ref}: card refreshed"


REMINDED = "reminder.last.{user}"  # bot_state: when a commander was last reminded
# The two things a P0/P1 commander is reminded of, each with its own due time (timer).
REMINDED_KINDS = (timers.STATUS_REMINDER, timers.PUBLIC_UPDATE)
NAMES = {timers.STATUS_REMINDER: "status update", timers.PUBLIC_UPDATE: "public update"}


def _remind(deps: Deps, incident: Incident, now: datetime) -> str:
    """P0/P1: one reminder to the commander carrying everything due (a status update for the
    team, a public update, or both), whichever timer came due. At most one per incident per
    `reminders.status_update_minutes`, and one per person per `reminders.per_person_minutes`
    over all their incidents; what is due in between waits and comes in the next one."""
    armed = deps.store.incidents.timers(incident.number)
    due = [kind for kind in REMINDED_KINDS if kind in armed and armed[kind] <= now]
    if not due:
        return f"{incident.ref}: nothing due (the other reminder timer covered it)"
    policy = deps.settings.reminders
    key = REMINDED.format(user=incident.commander)
    last = deps.store.state(key)
    person_free = (
        datetime.fromisoformat(last) + timedelta(minutes=policy.per_person_minutes) if last else now
    )
    if now < person_free:
        for kind in due:
            service.rearm(deps.store, incident.number, kind, person_free)
        return f"{incident.ref}: reminder held until {person_free:%H:%M} (the commander's cap)"
    effects.remind(deps, incident, _reminder(deps, incident, now, due))
    deps.store.set_state(key, now.isoformat())
    gap = timedelta(minutes=policy.status_update_minutes)
    for kind, at in armed.items():
        if kind in REMINDED_KINDS:
            again = now + max(gap, _every(deps, kind)) if kind in due else max(at, now + gap)
            service.rearm(deps.store, incident.number, kind, again)
    return f"{incident.ref}: reminder sent to the commander ({' and '.join(NAMES[k] for k in due)})"


def _every(deps: Deps, kind: str) -> timedelta:
    minutes = (
        deps.settings.reminders.status_update_minutes
        if kind == timers.STATUS_REMINDER
        else deps.settings.status_page.update_every_minutes
    )
    return timedelta(minutes=minutes)


def _reminder(deps: Deps, incident: Incident, now: datetime, due: list[str]) -> Reply:
    updates = [e.at for e in deps.store.incidents.timeline(incident.number) if e.kind == "update"]
    public = [u.at for u in deps.store.incidents.public_updates(incident.number)]
    return texts.render_reminder(
        incident,
        deps.settings,
        now,
        status_due=timers.STATUS_REMINDER in due,
        public_due=timers.PUBLIC_UPDATE in due,
        last_update=updates[-1] if updates else None,
        last_public=public[-1] if public else None,
    )


def _still_open(deps: Deps, incident: Incident, now: datetime) -> str:
    effects.thread(deps, incident.number, texts.render_still_open(incident, now))
    due = timers.next_working_slot(now + timedelta(days=1), deps.settings)
    service.rearm(deps.store, incident.number, timers.STILL_OPEN, due)
    return f"{incident.ref}: still-open nudge posted"


def _auto_notice(deps: Deps, incident: Incident, now: datetime) -> str:
    """An outage past the configured length: users get the ongoing notice."""
    outside.notice(deps, incident, entry="User notice sent (outage over an hour)")
    service.rearm(deps.store, incident.number, timers.AUTO_NOTICE, None)
    return f"{incident.ref}: ongoing notice sent"


ALARMS: dict[str, Callable[[Deps, Incident, datetime], str]] = {
    timers.ACK_DEADLINE: _breach,
    timers.CARD_REFRESH: _refresh,
    timers.STATUS_REMINDER: _remind,
    timers.STILL_OPEN: _still_open,
    timers.ESCALATE: _escalate,
    timers.PUBLIC_UPDATE: _remind,
    timers.AUTO_NOTICE: _auto_notice,
}
