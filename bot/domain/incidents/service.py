"""Incident rules: legal transitions, response targets, timeline entries. No Slack in here.

Every change goes through Store.change_incident, so the rule is checked against the committed
state inside the same transaction that writes the result (and arms or disarms its timers).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.domain.incidents import timers
from bot.domain.incidents.targets import ack_deadline, judge, judged, target_met
from bot.replies import UserError, mention, span
from bot.store import Change, Changed, Entry, Incident, Store

_KIND_OF_STATUS = {
    "investigating": "investigate",
    "identified": "investigate",
    "mitigating": "mitigate",
    "monitoring": "mitigate",
}
# The status lifecycle: forward through the plan's steps, back when a fix did not hold.
NEXT_STATUSES = {
    "open": ("investigating", "identified", "mitigating", "monitoring"),
    "acknowledged": ("investigating", "identified", "mitigating", "monitoring"),
    "investigating": ("identified", "mitigating", "monitoring"),
    "identified": ("investigating", "mitigating", "monitoring"),
    "mitigating": ("investigating", "monitoring"),
    "monitoring": ("investigating", "mitigating"),
}
ROLES = {"commander": "commander", "comms": "comms_lead"}
ROLE_NAMES = {"commander": "Commander", "comms": "Communications lead"}
TAKES = {"commander": "command", "comms": "comms"}  # "taking command", as the buttons say


def find_incident(store: Store, ref: int | None, channel: str | None = None) -> Incident:
    """The incident named; the one whose own channel `channel` is; the only open one;
    otherwise a question back to the person."""
    if ref is None and channel:
        here = store.rooms.by_room(channel)
        if here is not None:
            return here
    if ref is not None:
        incident = store.incidents.incident(ref)
        if incident is None:
            raise UserError(f"There is no incident INC-{ref}.")
        return incident
    open_ones = store.incidents.find(open_only=True)
    if len(open_ones) == 1:
        return open_ones[0]
    if not open_ones:
        raise UserError("No incident is open. Name one: `INC-n`.")
    refs = ", ".join(i.ref for i in open_ones[:10]) + (", …" if len(open_ones) > 10 else "")
    raise UserError(f"Which incident? Open now: {refs}. Add its id, e.g. `{open_ones[0].ref}`.")


def open_incident(
    store: Store,
    settings: Settings,
    *,
    title: str,
    severity: str | None,
    actor: str,
    now: datetime,
    more: tuple[Entry, ...] = (),
    via: str = "hand",
) -> Incident:
    """Open it; `more`: timeline entries it starts with besides its opening (the message it
    was declared from, what was known); `via`: what opened it (hand, monitor, alerts,
    security, digest), for /incident stats."""
    severity = severity or settings.default_severity
    level = settings.severities[severity]
    draft = Incident(
        number=0,
        title=title,
        severity=severity,
        status="open",
        commander=actor,
        opened_by=actor,
        opened_at=now,
        opened_via=via,
    )
    entry = Entry(now, actor, "opened", f"Opened as {severity} ({level.label}): {title}")
    return store.incidents.open_incident(
        draft, Change({}, (*more, entry), timers.on_open(draft, settings, now))
    )


def _require_open(incident: Incident) -> None:
    if not incident.is_open:
        raise UserError(f"{incident.ref} is resolved; it can no longer change.")


def _ack_change(
    incident: Incident, settings: Settings, actor: str, now: datetime, by: str | None = None
) -> Change:
    """`by`: the work that acknowledged it, when it was not the Acknowledge button or `ack`."""
    took = now - incident.opened_at
    # a target already missed (the breach) stays missed, at the severity it was missed at
    met = incident.target_met
    if met is None:
        met = incident.breached_at is None and now <= ack_deadline(incident, settings)
    fields: dict[str, Any] = {"acked_at": now, "acked_by": actor}
    fields |= judge(incident, settings, met)
    level = judged(replace(incident, **fields), settings)
    verdict = "met" if met else "missed"
    how = f" by {by}" if by else ""
    text = (
        f"Acknowledged{how} after {span(took)} "
        f"({level.severity} target {span(level.target)}: {verdict})"
    )
    if incident.status == "open":
        fields["status"] = "acknowledged"
    return Change(fields, (Entry(now, actor, "acknowledge", text),), timers.after_ack())


def acknowledge(
    store: Store, settings: Settings, number: int, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        if incident.acked_at is not None:
            raise UserError(
                f"{incident.ref} was already acknowledged by {mention(incident.acked_by)}."
            )
        return _ack_change(incident, settings, actor, now)

    return store.incidents.change_incident(number, decide)


def _with_implicit_ack(
    incident: Incident,
    settings: Settings,
    actor: str,
    now: datetime,
    change: Change,
    by: str,
) -> Change:
    """Working on an unacknowledged incident acknowledges it: someone is clearly on it. The
    acknowledgement comes first on the timeline and says which work it was."""
    if incident.acked_at is not None or not incident.is_open:
        return change
    ack = _ack_change(incident, settings, actor, now, by)
    return Change(
        {**ack.fields, **change.fields},
        ack.entries + change.entries,
        {**ack.timers, **change.timers},
    )


def acknowledge_by_work(
    store: Store, settings: Settings, number: int, *, actor: str, now: datetime, by: str
) -> Changed | None:
    """For work recorded outside change_incident (a public update, an edit, an action item,
    the user notice): acknowledge the incident if it is open and nobody has. None if not."""
    acked: list[bool] = []

    def decide(incident: Incident) -> Change:
        change = _with_implicit_ack(incident, settings, actor, now, Change(), by)
        acked.append(bool(change.entries))
        return change

    changed = store.incidents.change_incident(number, decide)
    return changed if acked[0] else None


def set_status(
    store: Store, settings: Settings, number: int, status: str, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        allowed = NEXT_STATUSES[incident.status]
        if status not in allowed:
            raise UserError(
                f"{incident.ref} is {incident.status}; from there it can go to "
                f"{' or '.join(allowed)}, or be resolved."
            )
        fields: dict[str, Any] = {"status": status}
        if status == "monitoring" and incident.mitigated_at is None:
            fields["mitigated_at"] = now
        if _KIND_OF_STATUS[status] == "investigate":
            fields["mitigated_at"] = None  # back to investigating: the fix did not hold
        text = f"Status: {incident.status} → {status}"
        change = Change(
            fields,
            (Entry(now, actor, _KIND_OF_STATUS[status], text),),
            timers.after_update(incident, settings, now),
        )
        return _with_implicit_ack(incident, settings, actor, now, change, "a status change")

    return store.incidents.change_incident(number, decide)


def set_severity(
    store: Store,
    settings: Settings,
    number: int,
    severity: str,
    *,
    actor: str,
    now: datetime,
    why: str | None = None,
) -> Changed:
    """`why`: said on its timeline entry (a reason is no status update: no timer moves)."""

    def decide(incident: Incident) -> Change:
        _require_open(incident)
        if incident.severity == severity:
            raise UserError(f"{incident.ref} is already {severity}.")
        label = settings.severities[severity].label
        fields: dict[str, Any] = {"severity": severity}
        if incident.acked_at is not None:  # an incident from before the record keeps its own
            fields |= judge(incident, settings, bool(target_met(incident, settings)))
        elif incident.breached_at or now >= ack_deadline(incident, settings):
            fields |= judge(incident, settings, False)  # missed while it was this severity
        text = f"Severity: {incident.severity} → {severity} ({label})" + (f": {why}" if why else "")
        before = replace(incident, **{k: v for k, v in fields.items() if k != "severity"})
        if target_met(before, settings) is not None:
            level, result = judged(before, settings), target_met(before, settings)
            text += (
                f"; the response target stays judged at {level.severity} "
                f"({span(level.target)}: {'met' if result else 'missed'})"
            )
        after = replace(incident, **fields)
        return Change(
            fields,
            (Entry(now, actor, "severity", text),),
            timers.after_severity(after, settings, now),
        )

    return store.incidents.change_incident(number, decide)


def set_role(
    store: Store,
    settings: Settings,
    number: int,
    role: str,
    user: str,
    *,
    actor: str,
    now: datetime,
) -> Changed:
    column, name = ROLES[role], ROLE_NAMES[role]

    def decide(incident: Incident) -> Change:
        _require_open(incident)
        current = getattr(incident, column)
        if current == user:
            raise UserError(f"{mention(user)} is already {name.lower()} of {incident.ref}.")
        text = f"{name}: {mention(current) if current else 'nobody'} → {mention(user)}"
        change = Change({column: user}, (Entry(now, actor, "role", text),))
        by = f"taking {TAKES[role]}" if user == actor else f"naming the {name.lower()}"
        return _with_implicit_ack(incident, settings, actor, now, change, by)

    return store.incidents.change_incident(number, decide)


def post_update(
    store: Store,
    settings: Settings,
    number: int,
    text: str,
    *,
    actor: str,
    now: datetime,
    at: datetime | None = None,
) -> Changed:
    """A status update (now), or a note of something that happened earlier (`at`)."""
    if at is not None and at > now:
        raise UserError("That time is in the future; give the time it happened.")

    def decide(incident: Incident) -> Change:
        if at is not None and at < incident.opened_at - timedelta(days=1):
            raise UserError(f"That is long before {incident.ref} was opened.")
        # A note of the past is not a status update: it neither does the Communicate step
        # nor resets the status reminder.
        entry = Entry(at, actor, "note", text) if at else Entry(now, actor, "update", text)
        if at is not None:
            change = Change({}, (entry,))
            return _with_implicit_ack(incident, settings, actor, now, change, "a note")
        reminder = timers.after_update(incident, settings, now) if incident.is_open else {}
        change = Change({}, (entry,), reminder)
        return _with_implicit_ack(incident, settings, actor, now, change, "a status update")

    return store.incidents.change_incident(number, decide)


def public_update(
    store: Store, settings: Settings, number: int, text: str, *, actor: str, now: datetime
) -> Changed:
    """A public update: on the status page, on the timeline; the next one is due in 30 min.
    Posting one acknowledges the incident if nobody had."""
    acked = acknowledge_by_work(store, settings, number, actor=actor, now=now, by="a public update")
    incident = store.incidents.incident(number)
    assert incident is not None
    entry = Entry(now, actor, "communicate", f"Public update: {text}")
    store.incidents.add_public_update(number, text, actor, now, entry)
    if incident.is_open:
        due = timers.communication(incident, settings, now, first=False)[timers.PUBLIC_UPDATE]
        rearm(store, number, timers.PUBLIC_UPDATE, due)
    return Changed(incident, (acked.entries if acked else ()) + (entry,))


def set_public_title(
    store: Store, settings: Settings, number: int, title: str, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        entry = Entry(now, actor, "communicate", f"Public title: {title}")
        change = Change({"public_title": title}, (entry,))
        return _with_implicit_ack(
            incident, settings, actor, now, change, "setting the public title"
        )

    return store.incidents.change_incident(number, decide)


def mark_communicated(
    store: Store, settings: Settings, number: int, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        text = "Communicate step started: status page, affected users, stakeholders"
        change = Change({}, (Entry(now, actor, "communicate", text),))
        return _with_implicit_ack(incident, settings, actor, now, change, "starting Communicate")

    return store.incidents.change_incident(number, decide)


def resolve(
    store: Store, settings: Settings, number: int, *, actor: str, summary: str | None, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        took = span(now - incident.opened_at)
        text = f"Resolved after {took}" + (f": {summary}" if summary else "")
        fields = {
            "status": "resolved",
            "resolved_at": now,
            "resolved_by": actor,
            "summary": summary,
        }
        change = Change(fields, (Entry(now, actor, "resolve", text),), timers.all_off())
        return _with_implicit_ack(incident, settings, actor, now, change, "resolving it")

    return store.incidents.change_incident(number, decide)


def reopen(
    store: Store, settings: Settings, number: int, *, actor: str, why: str | None, now: datetime
) -> Changed:
    """Resolved too soon: open again, investigating, with its reminders counted from now."""

    def decide(incident: Incident) -> Change:
        if incident.is_open:
            raise UserError(f"{incident.ref} is open; there is nothing to reopen.")
        fields: dict[str, Any] = dict.fromkeys(("resolved_at", "resolved_by", "mitigated_at"))
        fields |= {"status": "investigating", "summary": None}
        after = replace(incident, **fields)
        due = {
            **timers.reminders(after, settings, now),
            **timers.communication(after, settings, now, first=False),
        }
        text = "Reopened" + (f": {why}" if why else "")
        return Change(fields, (Entry(now, actor, "reopen", text),), due)

    return store.incidents.change_incident(number, decide)


def snooze(store: Store, number: int, minutes: int, *, actor: str, now: datetime) -> Changed:
    """No reminder of either kind (status update, public update) for `minutes`."""
    until = now + timedelta(minutes=minutes)
    armed = store.incidents.timers(number)
    held: timers.Timers = {
        kind: max(armed[kind], until)
        for kind in (timers.STATUS_REMINDER, timers.PUBLIC_UPDATE)
        if kind in armed
    }

    def decide(incident: Incident) -> Change:
        _require_open(incident)
        return Change(timers=held)

    return store.incidents.change_incident(number, decide)


def rearm(store: Store, number: int, kind: str, due: datetime | None) -> None:
    store.incidents.change_incident(number, lambda incident: Change(timers={kind: due}))
