"""Incidents: the incident rows, timeline, timers and public updates (action items and
post-mortems are in followup.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from bot.store.base import Repository
from bot.store.incident_rows import (
    Change,
    Changed,
    Edit,
    Entry,
    Incident,
    Page,
    PublicUpdate,
    Timer,
    _edit,
    _entry,
    _incident,
)
from bot.store.schema.records import incidents, public_updates, timeline, timeline_edits, timers
from bot.store.sql import _cell, _iso, _rows, cells, prebuilt, upsert

_INCIDENT_COLUMNS = {f for f in Incident.__dataclass_fields__ if f != "number"}


def _update(db: Connection, number: int, fields: dict[str, Any]) -> None:
    assert set(fields) <= _INCIDENT_COLUMNS, set(fields) - _INCIDENT_COLUMNS
    db.execute(_UPDATE, {**cells(fields), "incident": number})  # the fields are what it sets


def _incident_filter(open_only: bool, severity: str | None) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if open_only:
        clauses.append(incidents.c.status != "resolved")
    if severity:
        clauses.append(incidents.c.severity == severity)
    return clauses


def _lock(db: Connection, number: int) -> None:
    """Hold the incident's row until the write ends, so writers to one incident take turns
    (SQLite's writers already do: the statement says nothing there). NO KEY UPDATE: a
    timeline row's foreign key check (KEY SHARE) does not wait on it, nor it on one."""
    if db.dialect.name == "sqlite":  # nothing to say, so no statement to send
        return
    db.execute(_LOCK, {"incident": number})


def _insert_entries(
    db: Connection, number: int, entries: tuple[Entry, ...], *, new: bool = False
) -> int:
    """Insert entries; returns how many were new. A source already on this timeline (a
    retried event, a second pin of the same message) adds nothing. `new`: the incident was
    made in this transaction, so no other can see it and its timeline starts at #1."""
    if not entries:
        return 0
    # Numbered per incident, #1, #2, ... with no gap: the next number is read with the
    # incident's row held, so two writers to one timeline never read the same one.
    seq = 1
    if not new:
        _lock(db, number)
        seq = db.execute(_NEXT_SEQ, {"incident": number}).scalar_one()
    added = 0
    for entry in entries:
        # the id is the database's to give: an explicit NULL is not "give one" on PostgreSQL
        written = {k: v for k, v in entry.__dict__.items() if k != "id"}
        row = {"incident_id": number, **written, "seq": seq}
        if db.execute(_ADD_ENTRY(db), cells(row)).first() is not None:
            added, seq = added + 1, seq + 1
    return added


def _set_timers(db: Connection, number: int, armed: dict[str, datetime | None]) -> None:
    rows = [
        {"incident_id": number, "kind": kind, "due_at": _iso(due)} for kind, due in armed.items()
    ]
    if rows:
        db.execute(_SET_TIMER(db), rows)


# Built once (what a command runs): their values come as parameters.
_OPEN = insert(incidents).returning(incidents.c.id)
_UPDATE = update(incidents).where(incidents.c.id == bindparam("incident"))
_INCIDENT = select(incidents).where(incidents.c.id == bindparam("incident"))
_HELD_INCIDENT = _INCIDENT.with_for_update(key_share=True)
_TIMELINE = (
    select(timeline)
    .where(timeline.c.incident_id == bindparam("incident"))
    .order_by(timeline.c.at, timeline.c.id)
)
_LOCK = select(incidents.c.id).where(incidents.c.id == bindparam("incident"))
_LOCK = _LOCK.with_for_update(key_share=True)
# Its own statement, after the lock: in one, PostgreSQL would read the number before
# waiting for the row, and two writers could read the same one.
_NEXT_SEQ = select(func.coalesce(func.max(timeline.c.seq), 0) + 1).where(
    timeline.c.incident_id == bindparam("incident")
)


@prebuilt
def _ADD_ENTRY(dialect: str) -> Executable:  # noqa: N802
    # Only a repeated source is skipped: a number taken twice is an error, never a loss.
    new = upsert(dialect, timeline).on_conflict_do_nothing(index_elements=["incident_id", "source"])
    return new.returning(timeline.c.id)  # type: ignore[no-any-return]


@prebuilt
def _SET_TIMER(dialect: str) -> Executable:  # noqa: N802
    put = upsert(dialect, timers)
    return put.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["incident_id", "kind"], set_={"due_at": put.excluded.due_at}
    )


def _read_incident(
    db: Connection, query: Select[Any], params: dict[str, Any] | None = None
) -> Incident | None:
    row = db.execute(query, params).mappings().first()
    return _incident(dict(row)) if row else None


class IncidentStore(Repository):
    # Incidents ---------------------------------------------------------------------------

    def open_incident(self, incident: Incident, change: Change) -> Incident:
        fields = {k: v for k, v in incident.__dict__.items() if k != "number"}
        with self._write() as db:
            number: int = db.execute(_OPEN, cells(fields)).scalar_one()
            _insert_entries(db, number, change.entries, new=True)
            # A new incident has no timers yet: only the armed ones need a row.
            _set_timers(db, number, {k: v for k, v in change.timers.items() if v is not None})
        return replace(incident, number=number)

    def incident(self, number: int) -> Incident | None:
        with self._connect() as db:
            return _read_incident(db, _INCIDENT, {"incident": number})

    def incidents_marked(self, source: str, since: datetime) -> int:
        """How many incidents opened at or after `since` carry the timeline entry `source`
        (a mark such as the one an incident opened by a source's alerts gets)."""
        marked = exists().where(
            timeline.c.incident_id == incidents.c.id, timeline.c.source == source
        )
        counted = select(func.count()).select_from(incidents)
        with self._connect() as db:
            return db.execute(
                counted.where(incidents.c.opened_at >= _iso(since), marked)
            ).scalar_one()

    def incident_by_card(self, channel: str, ts: str) -> Incident | None:
        with self._connect() as db:
            by_card = incidents.c.card_channel == channel, incidents.c.card_ts == ts
            return _read_incident(db, select(incidents).where(*by_card))

    def find(
        self, *, open_only: bool, limit: int = 50, offset: int = 0, severity: str | None = None
    ) -> list[Incident]:
        """Open ones most severe first, then oldest first (the longest burning); all of them
        newest first."""
        order = (incidents.c.severity, incidents.c.id) if open_only else (incidents.c.id.desc(),)
        query = select(incidents).where(*_incident_filter(open_only, severity)).order_by(*order)
        with self._connect() as db:
            rows = _rows(db.execute(query.limit(limit).offset(offset)))
        return [_incident(row) for row in rows]

    def count_incidents(self, *, open_only: bool, severity: str | None = None) -> int:
        counted = select(func.count()).select_from(incidents)
        with self._connect() as db:
            return db.execute(counted.where(*_incident_filter(open_only, severity))).scalar_one()

    def change_incident(self, number: int, decide: Callable[[Incident], Change]) -> Changed:
        """Apply `decide` to the current state inside one write transaction.

        `decide` sees the incident as committed, so two people pressing Acknowledge at once
        get one acknowledgement and one "already acknowledged", never two.
        """
        with self._write() as db:
            # Held until the write ends: a second decision waits and sees this one's result.
            before = _read_incident(db, _HELD_INCIDENT, {"incident": number})
            if before is None:
                raise LookupError(number)
            change = decide(before)
            if change.fields:
                _update(db, number, change.fields)
            _insert_entries(db, number, change.entries)
            _set_timers(db, number, change.timers)
        return Changed(replace(before, **change.fields), change.entries)

    def set_card(self, number: int, channel: str, ts: str, entry: Entry) -> None:
        """Remember where the card was posted, and say so on the timeline."""
        with self._write() as db:
            _update(db, number, {"card_channel": channel, "card_ts": ts})
            _insert_entries(db, number, (entry,))

    def incidents_without_card(self) -> list[Incident]:
        query = select(incidents).where(
            incidents.c.card_ts.is_(None), incidents.c.status != "resolved"
        )
        with self._connect() as db:
            return [_incident(row) for row in _rows(db.execute(query.order_by(incidents.c.id)))]

    # Timers ------------------------------------------------------------------------------

    def due_timers(self, now: datetime) -> list[Timer]:
        """The timers due at `now`, oldest first, each with its incident's severity."""
        query = (
            select(timers, incidents.c.severity)
            .join(incidents, incidents.c.id == timers.c.incident_id)
            .where(timers.c.due_at.is_not(None), timers.c.due_at <= _iso(now))
        )
        with self._connect() as db:
            rows = _rows(db.execute(query.order_by(timers.c.due_at)))
        return [
            Timer(r["incident_id"], r["kind"], datetime.fromisoformat(r["due_at"]), r["severity"])
            for r in rows
        ]

    def timers(self, number: int) -> dict[str, datetime]:
        """The armed timers of one incident, by kind."""
        query = select(timers.c.kind, timers.c.due_at).where(
            timers.c.incident_id == number, timers.c.due_at.is_not(None)
        )
        with self._connect() as db:
            rows = db.execute(query).all()
        return {kind: datetime.fromisoformat(due) for kind, due in rows}

    # Timeline ----------------------------------------------------------------------------

    def add_entry(self, number: int, entry: Entry) -> bool:
        """Add one entry; False when its source is already on the timeline."""
        with self._write() as db:
            return _insert_entries(db, number, (entry,)) == 1

    def remove_entry(self, number: int, source: str) -> bool:
        gone = delete(timeline).where(timeline.c.incident_id == number, timeline.c.source == source)
        with self._write() as db:
            return db.execute(gone).rowcount > 0

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
        # Held until the write ends: two edits at once each record what the other left.
        query = select(timeline).where(timeline.c.seq == seq, timeline.c.incident_id == number)
        with self._write() as db:
            row = db.execute(query.with_for_update(key_share=True)).mappings().first()
            if row is None:
                return None
            old = _entry(dict(row))
            entry_id = old.id
            new_at, new_text = at or old.at, text or old.text
            edit = {
                "entry_id": entry_id,
                "edited_at": _iso(now),
                "editor": editor,
                "old_at": _iso(old.at),
                "old_text": old.text,
                "new_at": _iso(new_at),
                "new_text": new_text,
            }
            db.execute(insert(timeline_edits).values(cells(edit)))
            db.execute(
                update(timeline)
                .where(timeline.c.id == entry_id)
                .values(at=_iso(new_at), text=_cell(new_text), edited_at=_iso(now))
            )
        return replace(old, at=new_at, text=new_text, edited_at=now)

    def edits(self, entry_id: int) -> list[Edit]:
        query = select(timeline_edits).where(timeline_edits.c.entry_id == entry_id)
        with self._connect() as db:
            return [_edit(row) for row in _rows(db.execute(query.order_by(timeline_edits.c.id)))]

    def timeline(self, number: int) -> list[Entry]:
        with self._connect() as db:
            rows = _rows(db.execute(_TIMELINE, {"incident": number}))
        return [_entry(row) for row in rows]

    # Public status -----------------------------------------------------------------------

    def add_public_update(
        self, number: int, text: str, actor: str, at: datetime, entry: Entry
    ) -> None:
        said = {"incident_id": number, "at": _iso(at), "text": text, "actor": actor}
        with self._write() as db:
            db.execute(insert(public_updates).values(cells(said)))
            _insert_entries(db, number, (entry,))

    def public_updates(self, number: int) -> list[PublicUpdate]:
        query = select(public_updates.c.at, public_updates.c.text).where(
            public_updates.c.incident_id == number
        )
        with self._connect() as db:
            rows = db.execute(query.order_by(public_updates.c.at)).all()
        return [PublicUpdate(datetime.fromisoformat(at), said) for at, said in rows]

    def public_incidents(self, since: datetime) -> list[Incident]:
        """Incidents with at least one public update, opened since `since` or still open."""
        query = select(incidents).where(
            incidents.c.id.in_(select(public_updates.c.incident_id)),
            or_(incidents.c.opened_at >= _iso(since), incidents.c.status != "resolved"),
        )
        with self._connect() as db:
            rows = _rows(db.execute(query.order_by(incidents.c.id.desc())))
        return [_incident(row) for row in rows]

    # For the record kept outside opsbot (`opsbot export`) -----------------------------

    def opened_since(self, since: datetime) -> list[Incident]:
        query = select(incidents).where(incidents.c.opened_at >= _iso(since))
        with self._connect() as db:
            return [_incident(row) for row in _rows(db.execute(query.order_by(incidents.c.id)))]

    def pages(self, since: datetime, until: datetime | None = None) -> list[Page]:
        """Each page made in [since, until), oldest first (from its timeline entry, whose
        source says who was paged in which role: `page:<role>:<user>`)."""
        query = select(timeline.c.incident_id, timeline.c.at, timeline.c.source).where(
            timeline.c.kind == "page",
            timeline.c.source.like("page:%"),
            timeline.c.at >= _iso(since),
        )
        if until is not None:
            query = query.where(timeline.c.at < _iso(until))
        with self._connect() as db:
            rows = db.execute(query.order_by(timeline.c.at, timeline.c.id)).all()
        found = []
        for number, at, source in rows:
            _, role, person = str(source).split(":", 2)
            found.append(Page(number, datetime.fromisoformat(at), person, role))
        return found
