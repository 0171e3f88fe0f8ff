"""Which timers an incident has armed, and when they are due. Pure.

Timers live in SQLite (Store.timers) and are written in the same transaction as the change
that arms them, so a restart neither loses an escalation nor forgets a reminder.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.config import Settings
from bot.store import Incident

ACK_DEADLINE = "ack_deadline"  # the response target: breach and escalate when it passes
CARD_REFRESH = "card_refresh"  # refresh "N min left" on the card while unacknowledged
STATUS_REMINDER = "status_reminder"  # P0/P1: a status update is due (alarms._remind)
STILL_OPEN = "still_open"  # once a working day: "still open?" (P2/P3)
ESCALATE = "escalate"  # paged on-call has not acknowledged: page the escalation contact
PUBLIC_UPDATE = "public_update"  # P0/P1: a public update is due (the same one reminder)
AUTO_NOTICE = "auto_notice"  # a long outage: send the ongoing notice
KINDS = (
    ACK_DEADLINE,
    CARD_REFRESH,
    STATUS_REMINDER,
    STILL_OPEN,
    ESCALATE,
    PUBLIC_UPDATE,
    AUTO_NOTICE,
)

Timers = dict[str, datetime | None]


def deadline(incident: Incident, settings: Settings) -> datetime:
    minutes = settings.severities[incident.severity].response_minutes
    return incident.opened_at + timedelta(minutes=minutes)


def next_refresh(incident: Incident, settings: Settings, now: datetime) -> datetime | None:
    """Often enough that "N min left" is never far wrong, rarely enough not to spam Slack:
    every minute in the last 15, every 5 in the last hour, every 30 before that."""
    due = deadline(incident, settings)
    left = due - now
    if incident.acked_at is not None or left <= timedelta(0):
        return None
    step = timedelta(
        minutes=1 if left <= timedelta(minutes=15) else 5 if left <= timedelta(hours=1) else 30
    )
    return min(due, now + step)


def next_working_slot(after: datetime, settings: Settings) -> datetime:
    """The first moment at or after `after` inside working hours, in the team's zone."""
    tz, policy = settings.tz, settings.reminders
    start, end = policy.working_hours
    moment = after.astimezone(tz)
    for _ in range(8 * 24):
        if moment.weekday() in policy.working_days and start <= moment.hour < end:
            return moment
        moment = (moment + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return after.astimezone(tz)  # no working hours configured: nudge anyway


def reminders(incident: Incident, settings: Settings, now: datetime) -> Timers:
    """The nudges an incident of this severity gets, counted from `now`."""
    policy = settings.reminders
    every = timedelta(minutes=policy.status_update_minutes)
    status = now + every if incident.severity in policy.status_update_severities else None
    still_open = (
        next_working_slot(now + timedelta(days=1), settings)
        if incident.severity in policy.still_open_severities
        else None
    )
    return {STATUS_REMINDER: status, STILL_OPEN: still_open}


def communication(incident: Incident, settings: Settings, since: datetime, first: bool) -> Timers:
    """The plan: a public update within 15 min of a P0/P1, then every 30 min; the notice for
    outages longer than an hour."""
    page = settings.status_page
    if incident.severity not in page.reminder_severities:
        return {PUBLIC_UPDATE: None, AUTO_NOTICE: None}
    wait = page.first_update_minutes if first else page.update_every_minutes
    notice = (
        incident.opened_at + timedelta(minutes=page.auto_notice_minutes)
        if page.notice_webhook and page.auto_notice_minutes
        else None
    )
    return {PUBLIC_UPDATE: since + timedelta(minutes=wait), AUTO_NOTICE: notice}


def on_open(incident: Incident, settings: Settings, now: datetime) -> Timers:
    return {
        ACK_DEADLINE: deadline(incident, settings),
        CARD_REFRESH: next_refresh(incident, settings, now),
        **reminders(incident, settings, now),
        **communication(incident, settings, now, first=True),
    }


def after_ack() -> Timers:
    """Acknowledged: no countdown, no breach, and the escalation chain stops."""
    return {ACK_DEADLINE: None, CARD_REFRESH: None, ESCALATE: None}


def after_update(incident: Incident, settings: Settings, now: datetime) -> Timers:
    """A status update was given: the next reminder is a full interval away."""
    return {STATUS_REMINDER: reminders(incident, settings, now)[STATUS_REMINDER]}


def after_severity(incident: Incident, settings: Settings, now: datetime) -> Timers:
    """A new severity means a new response target and its own kind of reminder."""
    timers = {
        **reminders(incident, settings, now),
        **communication(incident, settings, now, first=True),
    }
    if incident.acked_at is None:
        timers[ACK_DEADLINE] = deadline(incident, settings)
        timers[CARD_REFRESH] = now
    return timers


def all_off() -> Timers:
    return dict.fromkeys(KINDS)
