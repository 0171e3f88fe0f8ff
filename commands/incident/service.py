"""Incident rules: legal transitions, response targets, timeline entries. No Slack in here.

Every change goes through Store.change_incident, so the rule is checked against the committed
state inside the same transaction that writes the result.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.replies import UserError, mention, span
from bot.store import Change, Changed, Entry, Incident, Store

# Timeline kinds that are one of the plan's six response steps.
STEP_OF_KIND = {
    "acknowledge": "Acknowledge",
    "investigate": "Investigate",
    "mitigate": "Mitigate",
    "update": "Communicate",
    "communicate": "Communicate",
    "resolve": "Resolve",
    "postmortem": "Post-mortem",
}
STEPS = ("Acknowledge", "Investigate", "Mitigate", "Communicate", "Resolve", "Post-mortem")
_KIND_OF_STATUS = {
    "investigating": "investigate",
    "mitigating": "mitigate",
    "monitoring": "mitigate",
}


def response_target(incident: Incident, settings: Settings) -> timedelta:
    return timedelta(minutes=settings.severities[incident.severity].response_minutes)


def ack_deadline(incident: Incident, settings: Settings) -> datetime:
    return incident.opened_at + response_target(incident, settings)


def target_met(incident: Incident, settings: Settings) -> bool | None:
    if incident.acked_at is None:
        return None
    return incident.acked_at <= ack_deadline(incident, settings)


def find_incident(store: Store, ref: int | None) -> Incident:
    """The incident named, or the only open one; otherwise a question back to the person."""
    if ref is not None:
        incident = store.incident(ref)
        if incident is None:
            raise UserError(f"There is no incident INC-{ref}.")
        return incident
    open_ones = store.incidents(open_only=True)
    if len(open_ones) == 1:
        return open_ones[0]
    if not open_ones:
        raise UserError("No incident is open. Name one: `INC-n`.")
    refs = ", ".join(i.ref for i in reversed(open_ones))
    raise UserError(f"Which incident? Open now: {refs}. Add its id, e.g. `{open_ones[0].ref}`.")


def open_incident(
    store: Store, settings: Settings, *, title: str, severity: str | None, actor: str, now: datetime
) -> Incident:
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
    )
    entry = Entry(now, actor, "opened", f"Opened as {severity} ({level.label}): {title}")
    return store.open_incident(draft, entry)


def _require_open(incident: Incident) -> None:
    if not incident.is_open:
        raise UserError(f"{incident.ref} is resolved; it can no longer change.")


def _ack_fields(
    incident: Incident, settings: Settings, actor: str, now: datetime
) -> tuple[dict[str, Any], Entry]:
    took = now - incident.opened_at
    met = now <= ack_deadline(incident, settings)
    target = span(response_target(incident, settings))
    verdict = "met" if met else "missed"
    text = f"Acknowledged after {span(took)} (target {target}: {verdict})"
    fields = {"status": "acknowledged", "acked_at": now, "acked_by": actor}
    return fields, Entry(now, actor, "acknowledge", text)


def acknowledge(
    store: Store, settings: Settings, number: int, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        if incident.acked_at is not None:
            raise UserError(
                f"{incident.ref} was already acknowledged by {mention(incident.acked_by)}."
            )
        fields, entry = _ack_fields(incident, settings, actor, now)
        return Change(fields, (entry,))

    return store.change_incident(number, decide)


def _with_implicit_ack(
    incident: Incident,
    settings: Settings,
    actor: str,
    now: datetime,
    fields: dict[str, Any],
    entries: list[Entry],
) -> Change:
    """Working on an unacknowledged incident acknowledges it: someone is clearly on it."""
    if incident.acked_at is None:
        ack_fields, ack_entry = _ack_fields(incident, settings, actor, now)
        ack_fields.pop("status")
        fields = {**ack_fields, **fields}
        entries = [ack_entry, *entries]
    return Change(fields, tuple(entries))


def set_status(
    store: Store, settings: Settings, number: int, status: str, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        if incident.status == status:
            raise UserError(f"{incident.ref} is already {status}.")
        fields: dict[str, Any] = {"status": status}
        if status == "monitoring" and incident.mitigated_at is None:
            fields["mitigated_at"] = now
        entry = Entry(now, actor, _KIND_OF_STATUS[status], f"Status: {incident.status} → {status}")
        return _with_implicit_ack(incident, settings, actor, now, fields, [entry])

    return store.change_incident(number, decide)


def set_severity(
    store: Store, settings: Settings, number: int, severity: str, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        if incident.severity == severity:
            raise UserError(f"{incident.ref} is already {severity}.")
        label = settings.severities[severity].label
        text = f"Severity: {incident.severity} → {severity} ({label})"
        return Change({"severity": severity}, (Entry(now, actor, "severity", text),))

    return store.change_incident(number, decide)


def set_lead(store: Store, number: int, user: str, *, actor: str, now: datetime) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        if incident.commander == user:
            raise UserError(f"{mention(user)} already leads {incident.ref}.")
        text = f"Commander: {mention(incident.commander)} → {mention(user)}"
        return Change({"commander": user}, (Entry(now, actor, "lead", text),))

    return store.change_incident(number, decide)


def post_update(store: Store, number: int, text: str, *, actor: str, now: datetime) -> Changed:
    def decide(incident: Incident) -> Change:
        return Change({}, (Entry(now, actor, "update", text),))

    return store.change_incident(number, decide)


def mark_communicated(
    store: Store, settings: Settings, number: int, *, actor: str, now: datetime
) -> Changed:
    def decide(incident: Incident) -> Change:
        _require_open(incident)
        entry = Entry(
            now,
            actor,
            "communicate",
            "Communicate step started: status page, affected users, stakeholders",
        )
        return _with_implicit_ack(incident, settings, actor, now, {}, [entry])

    return store.change_incident(number, decide)


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
        return _with_implicit_ack(
            incident, settings, actor, now, fields, [Entry(now, actor, "resolve", text)]
        )

    return store.change_incident(number, decide)


def steps_done(entries: list[Entry]) -> dict[str, Entry | None]:
    """Each response step with the first entry that did it, or None."""
    done: dict[str, Entry | None] = dict.fromkeys(STEPS)
    for entry in entries:
        step = STEP_OF_KIND.get(entry.kind)
        if step and done[step] is None:
            done[step] = entry
    return done
