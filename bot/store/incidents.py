"""Incidents: the incident rows, timeline, timers and public updates (action items and
post-mortems are in followup.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from bot.store.base import StoreBase, _cell, _insert, _iso, _parse, _query, _sql


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


_TIME_FIELDS = {"opened_at", "acked_at", "mitigated_at", "resolved_at", "breached_at"}


def _incident(row: dict[str, Any]) -> Incident:
    values: dict[str, Any] = {
        k: (_parse(v) if k in _TIME_FIELDS else v) for k, v in row.items() if k != "id"
    }
    if values.get("target_met") is not None:
        values["target_met"] = bool(values["target_met"])
    return Incident(number=row["id"], **values)


def _row(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in fields.items()}


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


_INCIDENT_COLUMNS = {f for f in Incident.__dataclass_fields__ if f != "number"}


def _update(db: Connection, number: int, fields: dict[str, Any]) -> None:
    assert set(fields) <= _INCIDENT_COLUMNS, set(fields) - _INCIDENT_COLUMNS
    assignments = ", ".join(f"{name} = ?" for name in fields)
    _sql(
        db,
        f"UPDATE incidents SET {assignments} WHERE id = ?",
        [*(_cell(value) for value in fields.values()), number],
    )


def _incident_filter(open_only: bool, severity: str | None) -> tuple[str, list[Any]]:
    clauses = ["status != 'resolved'"] if open_only else []
    if severity:
        clauses.append("severity = ?")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), [severity] if severity else []


def _insert_entries(db: Connection, number: int, entries: tuple[Entry, ...]) -> int:
    """Insert entries; returns how many were new. A source already on this timeline (a
    retried event, a second pin of the same message) adds nothing."""
    added = 0
    sql = "SELECT COALESCE(MAX(seq), 0) + 1 FROM timeline WHERE incident_id = ?"
    for entry in entries:
        # numbered per incident, inside the write transaction (the unique index guards it)
        seq = _sql(db, sql, [number]).one()[0]
        row = {"incident_id": number, **_row(entry.__dict__), "seq": seq}
        added += _insert(db, "timeline", row, or_ignore=True).rowcount
    return added


def _set_timers(db: Connection, number: int, timers: dict[str, datetime | None]) -> None:
    rows = [(number, kind, _iso(due)) for kind, due in timers.items()]
    if not rows:
        return
    _sql(
        db,
        "INSERT INTO timers (incident_id, kind, due_at) VALUES (?, ?, ?) "
        "ON CONFLICT (incident_id, kind) DO UPDATE SET due_at = excluded.due_at",
        rows,
    )


@dataclass(frozen=True)
class Timer:
    incident: int
    kind: str
    due_at: datetime


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


class IncidentStore(StoreBase):
    # Incidents ---------------------------------------------------------------------------

    def open_incident(self, incident: Incident, change: Change) -> Incident:
        fields = _row(incident.__dict__)
        fields.pop("number")
        with self._write() as db:
            number = _insert(db, "incidents", fields).lastrowid
            assert number is not None
            _insert_entries(db, number, change.entries)
            # A new incident has no timers yet: only the armed ones need a row.
            _set_timers(db, number, {k: v for k, v in change.timers.items() if v is not None})
        return replace(incident, number=number)

    def incident(self, number: int) -> Incident | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM incidents WHERE id = ?", [number])
        return _incident(rows[0]) if rows else None

    def incidents_marked(self, source: str, since: datetime) -> int:
        """How many incidents opened at or after `since` carry the timeline entry `source`
        (a mark such as the one an incident opened by a source's alerts gets)."""
        sql = (
            "SELECT COUNT(*) FROM incidents i WHERE i.opened_at >= ? AND EXISTS "
            "(SELECT 1 FROM timeline t WHERE t.incident_id = i.id AND t.source = ?)"
        )
        with self._connect() as db:
            return int(_sql(db, sql, [_iso(since), source]).one()[0])

    def incident_by_card(self, channel: str, ts: str) -> Incident | None:
        sql = "SELECT * FROM incidents WHERE card_channel = ? AND card_ts = ?"
        with self._connect() as db:
            rows = _query(db, sql, [channel, ts])
        return _incident(rows[0]) if rows else None

    def incidents(
        self, *, open_only: bool, limit: int = 50, offset: int = 0, severity: str | None = None
    ) -> list[Incident]:
        """Open ones most severe first, then oldest first (the longest burning); all of them
        newest first."""
        where, params = _incident_filter(open_only, severity)
        order = "severity, id" if open_only else "id DESC"
        sql = f"SELECT * FROM incidents {where} ORDER BY {order} LIMIT ? OFFSET ?"
        with self._connect() as db:
            rows = _query(db, sql, [*params, limit, offset])
        return [_incident(row) for row in rows]

    def count_incidents(self, *, open_only: bool, severity: str | None = None) -> int:
        where, params = _incident_filter(open_only, severity)
        with self._connect() as db:
            return int(_sql(db, f"SELECT COUNT(*) FROM incidents {where}", params).one()[0])

    def change_incident(self, number: int, decide: Callable[[Incident], Change]) -> Changed:
        """Apply `decide` to the current state inside one write transaction.

        `decide` sees the incident as committed, so two people pressing Acknowledge at once
        get one acknowledgement and one "already acknowledged", never two.
        """
        with self._write() as db:
            rows = _query(db, "SELECT * FROM incidents WHERE id = ?", [number])
            if not rows:
                raise LookupError(number)
            before = _incident(rows[0])
            change = decide(before)
            if change.fields:
                _update(db, number, _row(change.fields))
            _insert_entries(db, number, change.entries)
            _set_timers(db, number, change.timers)
        return Changed(replace(before, **change.fields), change.entries)

    def set_card(self, number: int, channel: str, ts: str, entry: Entry) -> None:
        """Remember where the card was posted, and say so on the timeline."""
        with self._write() as db:
            _update(db, number, {"card_channel": channel, "card_ts": ts})
            _insert_entries(db, number, (entry,))

    def incidents_without_card(self) -> list[Incident]:
        sql = "SELECT * FROM incidents WHERE card_ts IS NULL AND status != 'resolved' ORDER BY id"
        with self._connect() as db:
            return [_incident(row) for row in _query(db, sql)]

    # Timers ------------------------------------------------------------------------------

    def due_timers(self, now: datetime) -> list[Timer]:
        sql = "SELECT * FROM timers WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at"
        with self._connect() as db:
            rows = _query(db, sql, [_iso(now)])
        return [
            Timer(r["incident_id"], r["kind"], datetime.fromisoformat(r["due_at"])) for r in rows
        ]

    def timers(self, number: int) -> dict[str, datetime]:
        """The armed timers of one incident, by kind."""
        sql = "SELECT kind, due_at FROM timers WHERE incident_id = ? AND due_at IS NOT NULL"
        with self._connect() as db:
            rows = _query(db, sql, [number])
        return {r["kind"]: datetime.fromisoformat(r["due_at"]) for r in rows}

    # Timeline ----------------------------------------------------------------------------

    def add_entry(self, number: int, entry: Entry) -> bool:
        """Add one entry; False when its source is already on the timeline."""
        with self._write() as db:
            return _insert_entries(db, number, (entry,)) == 1

    def remove_entry(self, number: int, source: str) -> bool:
        sql = "DELETE FROM timeline WHERE incident_id = ? AND source = ?"
        with self._write() as db:
            return _sql(db, sql, [number, source]).rowcount > 0

    def edit_entry(
        self,
        number: int,
        seq: int,
        *,
        text: str | None,
        at: datetime | None,
        editor: str,
        now: datetime,
    ) -> Entry | None:
        """Change entry #seq's text or time, keeping the old values in timeline_edits."""
        sql = "SELECT * FROM timeline WHERE seq = ? AND incident_id = ?"
        with self._write() as db:
            rows = _query(db, sql, [seq, number])
            if not rows:
                return None
            old = _entry(rows[0])
            entry_id = old.id
            new_at, new_text = at or old.at, text or old.text
            _insert(
                db,
                "timeline_edits",
                {
                    "entry_id": entry_id,
                    "edited_at": _iso(now),
                    "editor": editor,
                    "old_at": _iso(old.at),
                    "old_text": old.text,
                    "new_at": _iso(new_at),
                    "new_text": new_text,
                },
            )
            _sql(
                db,
                "UPDATE timeline SET at = ?, text = ?, edited_at = ? WHERE id = ?",
                [_iso(new_at), _cell(new_text), _iso(now), entry_id],
            )
        return replace(old, at=new_at, text=new_text, edited_at=now)

    def edits(self, entry_id: int) -> list[Edit]:
        sql = "SELECT * FROM timeline_edits WHERE entry_id = ? ORDER BY id"
        with self._connect() as db:
            return [_edit(row) for row in _query(db, sql, [entry_id])]

    def timeline(self, number: int) -> list[Entry]:
        sql = "SELECT * FROM timeline WHERE incident_id = ? ORDER BY at, id"
        with self._connect() as db:
            return [_entry(row) for row in _query(db, sql, [number])]

    # Public status -----------------------------------------------------------------------

    def add_public_update(
        self, number: int, text: str, actor: str, at: datetime, entry: Entry
    ) -> None:
        with self._write() as db:
            _insert(
                db,
                "public_updates",
                {"incident_id": number, "at": _iso(at), "text": text, "actor": actor},
            )
            _insert_entries(db, number, (entry,))

    def public_updates(self, number: int) -> list[PublicUpdate]:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT at, text FROM public_updates WHERE incident_id = ? ORDER BY at",
                [number],
            )
        return [PublicUpdate(datetime.fromisoformat(r["at"]), r["text"]) for r in rows]

    def public_incidents(self, since: datetime) -> list[Incident]:
        """Incidents with at least one public update, opened since `since` or still open."""
        sql = (
            "SELECT * FROM incidents WHERE id IN (SELECT incident_id FROM public_updates) "
            "AND (opened_at >= ? OR status != 'resolved') ORDER BY id DESC"
        )
        with self._connect() as db:
            return [_incident(row) for row in _query(db, sql, [_iso(since)])]
