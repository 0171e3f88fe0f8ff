"""What happens when an incident's timer comes due (see timers.py for when that is).

Each alarm posts through the outbox first and re-arms afterwards: a crash in between repeats
a reminder rather than losing an escalation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.replies import Reply, blocks, mention, section, span
from bot.store import Entry, Incident, Timer
from commands.incident import render, service, timers
from commands.incident.handlers import Outcome, publish, sync_card
from commands.oncall import paging
from commands.oncall.service import who
from commands.status import notices


def fire(deps: Deps, timer: Timer, now: datetime) -> str:
    """Run one due timer; says what it did."""
    incident = deps.store.incident(timer.incident)
    if incident is None or not incident.is_open:
        service.rearm(deps.store, timer.incident, timer.kind, None)
        return f"INC-{timer.incident}: {timer.kind} disarmed (resolved)"
    return ALARMS[timer.kind](deps, incident, now)


def _breach(deps: Deps, incident: Incident, now: datetime) -> str:
    changed = service.breach(deps.store, deps.settings, incident.number, now=now)
    if changed is None:
        return f"{incident.ref}: response target no longer applies"
    _outbox_call(deps, lambda: sync_card(deps, incident.number))
    oncall = who(deps.store, deps.settings, now)
    person, role = (oncall, "on call") if oncall else (incident.commander, "commander")
    target = span(service.response_target(incident, deps.settings))
    summary = (
        f"{incident.ref} ({incident.severity}) {incident.title}: not acknowledged "
        f"within its {target} response target"
    )
    _page(deps, changed.incident, person, role, summary, now)
    _outbox_call(deps, lambda: paging.pagerduty(deps, "trigger", changed.incident, summary))
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
    """Page first, record after: a crash in between pages twice rather than never. The
    entry's source keeps the timeline to one line per page either way."""
    text = (
        f":rotating_light: *Page:* {summary}. Press Acknowledge on the card or "
        f"`/incident ack {incident.ref}`."
    )
    _outbox_call(deps, lambda: paging.page(deps, incident, person, text))
    entry = Entry(
        now,
        None,
        "page",
        f"Paged {mention(person)} ({role}) by mention and DM",
        f"page:{role}:{person}",
    )
    deps.store.add_entry(incident.number, entry)


def _refresh(deps: Deps, incident: Incident, now: datetime) -> str:
    _outbox_call(deps, lambda: sync_card(deps, incident.number))
    service.rearm(
        deps.store,
        incident.number,
        timers.CARD_REFRESH,
        timers.next_refresh(incident, deps.settings, now),
    )
    return f"{incident.ref}: card refreshed"


def _status_reminder(deps: Deps, incident: Incident, now: datetime) -> str:
    reminder = render.render_reminder(incident, deps.settings, now)
    _outbox_call(deps, lambda: _remind_commander(deps, incident, reminder))
    every = timedelta(minutes=deps.settings.reminders.status_update_minutes)
    service.rearm(deps.store, incident.number, timers.STATUS_REMINDER, now + every)
    return f"{incident.ref}: status update reminder sent to the commander"


def _remind_commander(deps: Deps, incident: Incident, reminder: Reply) -> None:
    """Only the commander sees it; if Slack cannot show it to them there, it goes in the
    thread instead, so a reminder is never silently lost."""
    try:
        deps.slack.chat_postEphemeral(
            channel=incident.card_channel or "",
            user=incident.commander,
            thread_ts=incident.card_ts,
            **reminder.as_message(),
        )
    except SlackApiError:
        text = f"{mention(incident.commander)} {reminder.text}"
        snooze_buttons = reminder.blocks[1:]
        deps.slack.chat_postMessage(
            channel=incident.card_channel or "",
            thread_ts=incident.card_ts,
            text=text,
            blocks=[*blocks(section(text)), *snooze_buttons],
        )


def _still_open(deps: Deps, incident: Incident, now: datetime) -> str:
    _outbox(deps, Outcome(Reply(""), incident, (render.render_still_open(incident, now),)))
    due = timers.next_working_slot(now + timedelta(days=1), deps.settings)
    service.rearm(deps.store, incident.number, timers.STILL_OPEN, due)
    return f"{incident.ref}: still-open nudge posted"


def _outbox(deps: Deps, outcome: Outcome) -> None:
    _outbox_call(deps, lambda: publish(outcome, deps))


def _outbox_call(deps: Deps, work: Callable[[], object]) -> None:
    # Wait for it: the alarm is re-armed only once Slack has it (or raised, and it fires again).
    deps.outbox.submit(work).result(timeout=120)


def _public_update_due(deps: Deps, incident: Incident, now: datetime) -> str:
    """P0/P1: the plan wants a public update within 15 minutes, then every 30."""
    last = deps.store.public_updates(incident.number)
    since = f"the last one was {span(now - last[-1]['at'])} ago" if last else "none yet"
    reminder = Reply(
        f":loudspeaker: {incident.ref} ({incident.severity}): a public status update "
        f"is due ({since}). `/incident public {incident.ref} <text>`"
    )
    _outbox_call(deps, lambda: _remind_commander(deps, incident, reminder))
    every = timedelta(minutes=deps.settings.status_page.update_every_minutes)
    service.rearm(deps.store, incident.number, timers.PUBLIC_UPDATE, now + every)
    return f"{incident.ref}: public update reminder sent"


def _auto_notice(deps: Deps, incident: Incident, now: datetime) -> str:
    """An outage past the configured length: users get the ongoing notice."""
    _outbox_call(deps, lambda: notices.send(deps, incident))
    deps.store.add_entry(
        incident.number,
        Entry(now, None, "communicate", "User notice sent (outage over an hour)", "auto-notice"),
    )
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
