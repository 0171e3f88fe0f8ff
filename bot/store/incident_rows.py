"""What the incidents repository (incidents.py) reads and writes: an incident, its timeline
entries, a change to both, timers, edits and public updates, as frozen rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.store.sql import _parse


@dataclass(frozen=True)
class Incident:
    number: int
    title: str
    severity: str
    status: str
    commander: str
    opened_by: str
    opened_at: datetime
    acked_at: datetime | None = None
    acked_by: str | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    summary: str | None = None
    card_channel: str | None = None
    card_ts: str | None = None
    comms_lead: str | None = None
    breached_at: datetime | None = None
    public_title: str | None = None
    # The response target's result once decided, with the severity and target it was judged
    # at (bot/domain/incidents/targets.py); None until then, and on incidents older than the record.
    target_severity: str | None = None
    target_minutes: int | None = None
    target_met: bool | None = None
    # Its own channel, once made: the channel, its name, the card there, when it was
    # archived; or why Slack would not make one.
    room_id: str | None = None
    room_name: str | None = None
    room_card_ts: str | None = None
    room_archived_at: datetime | None = None
    room_problem: str | None = None
    opened_via: str | None = None  # hand, monitor, alerts, security; None: before the record

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str | None
    kind: str
    text: str
    source: str | None = None
    id: int | None = None
    edited_at: datetime | None = None
    seq: int | None = None  # the entry's number on its incident's timeline: #1, #2, ...


@dataclass(frozen=True)
class Change:
    """What a decision does to one incident: new field values, the timeline entries saying so,
    and the timers to arm (a due time) or disarm (None)."""

    fields: dict[str, Any] = field(default_factory=dict)
    entries: tuple[Entry, ...] = ()
    timers: dict[str, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Changed:
    incident: Incident
    entries: tuple[Entry, ...]


_TIME_FIELDS = {
    "opened_at",
    "acked_at",
    "mitigated_at",
    "resolved_at",
    "breached_at",
    "room_archived_at",
}


def _incident(row: dict[str, Any]) -> Incident:
    values: dict[str, Any] = {
        k: (_parse(v) if k in _TIME_FIELDS else v) for k, v in row.items() if k != "id"
    }
    if values.get("target_met") is not None:
        values["target_met"] = bool(values["target_met"])
    return Incident(number=row["id"], **values)


def _entry(row: dict[str, Any]) -> Entry:
    return Entry(
        at=datetime.fromisoformat(row["at"]),
        actor=row["actor"],
        kind=row["kind"],
        text=row["text"],
        source=row["source"],
        id=row["id"],
        edited_at=_parse(row["edited_at"]),
        seq=row["seq"],
    )


@dataclass(frozen=True)
class Page:
    """A page made: of whom, in which role (on call, escalation, commander), for which
    incident, when."""

    incident: int
    at: datetime
    person: str
    role: str


@dataclass(frozen=True)
class Timer:
    incident: int
    kind: str
    due_at: datetime
    severity: str = ""  # the incident's, when the timer was read


@dataclass(frozen=True)
class Edit:
    """One edit of a timeline entry: who made it, when, and the entry's time and text before
    and after."""

    id: int
    entry: int  # the timeline entry's id
    edited_at: datetime
    editor: str
    old_at: datetime
    old_text: str
    new_at: datetime
    new_text: str


@dataclass(frozen=True)
class PublicUpdate:
    """What was said in public about an incident (the status page shows the latest)."""

    at: datetime
    text: str


def _edit(row: dict[str, Any]) -> Edit:
    return Edit(
        row["id"],
        row["entry_id"],
        datetime.fromisoformat(row["edited_at"]),
        row["editor"],
        datetime.fromisoformat(row["old_at"]),
        row["old_text"],
        datetime.fromisoformat(row["new_at"]),
        row["new_text"],
    )
