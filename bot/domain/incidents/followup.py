"""An incident's record after the fact: a timeline entry corrected (the old version kept), and
action items with owners and due dates."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.replies import UserError, mention
from bot.store import Entry, Store


def edit_entry(
    store: Store,
    number: int,
    seq: int,
    *,
    text: str | None,
    at: datetime | None,
    actor: str,
    now: datetime,
) -> Entry:
    if at is not None and at > now:
        raise UserError("That time is in the future; give the time it happened.")
    incident = store.incidents.incident(number)
    if at is not None and incident is not None and at < incident.opened_at - timedelta(days=1):
        raise UserError(f"That is long before {incident.ref} was opened.")
    entry = store.incidents.edit_entry(number, seq, text=text, at=at, editor=actor, now=now)
    if entry is None:
        raise UserError(f"INC-{number} has no timeline entry #{seq}.")
    return entry


def add_action(
    store: Store,
    number: int,
    *,
    owner: str,
    text: str,
    due: str | None,
    actor: str,
    now: datetime,
) -> int:
    if store.incidents.incident(number) is None:
        raise UserError(f"There is no incident INC-{number}.")
    item = store.followups.add_action(number, owner=owner, text=text, due=due, actor=actor, now=now)
    note = f"Action item A{item} for {mention(owner)}: {text}" + (f" (due {due})" if due else "")
    store.incidents.add_entry(number, Entry(now, actor, "action", note, f"action:{item}"))
    return item
