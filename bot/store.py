"""SQLite storage: the only module that imports sqlite-utils.

One connection per thread (listeners and jobs run on many threads and a sqlite3 connection
is bound to its thread). WAL lets readers run beside the one writer; every write opens with
BEGIN IMMEDIATE so two writers queue on busy_timeout instead of failing half-way, and
synchronous=FULL means a commit the user has been told about survives a crash.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from sqlite3 import Cursor
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

# A write waits at most this long for the file: the answer to a slash command is due in 3 s,
# and "busy, nothing changed" is better than Slack's timeout with the change made behind it.
BUSY_TIMEOUT_MS = 2_000


class StoreBusy(Exception):
    """Another writer held the database past BUSY_TIMEOUT_MS; nothing was written."""


migrations = Migrations("opsbot")


@migrations()
def m001_incidents(db: Database) -> None:
    db.table("incidents").create(
        {
            "id": int,
            "title": str,
            "severity": str,
            "status": str,
            "commander": str,
            "opened_by": str,
            "opened_at": str,
            "acked_at": str,
            "acked_by": str,
            "mitigated_at": str,
            "resolved_at": str,
            "resolved_by": str,
            "summary": str,
            "card_channel": str,
            "card_ts": str,
        },
        pk="id",
        not_null={"title", "severity", "status", "opened_by", "opened_at"},
    )
    db.table("incidents").create_index(["status"])
    db.table("incidents").create_index(["card_channel", "card_ts"])
    db.table("timeline").create(
        {
            "id": int,
            "incident_id": int,
            "at": str,
            "actor": str,
            "kind": str,
            "text": str,
            "source": str,
        },
        pk="id",
        foreign_keys=[("incident_id", "incidents", "id")],
        not_null={"incident_id", "at", "kind", "text"},
    )
    db.table("timeline").create_index(["incident_id", "at"])
    # A source (a Slack message, a button click) can put at most one entry on a timeline.
    db.table("timeline").create_index(["incident_id", "source"], unique=True)
    db.table("postmortems").create(
        {"incident_id": int, "markdown": str, "notice": str, "written_at": str},
        pk="incident_id",
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("seen_events").create({"event_id": str, "seen_at": str}, pk="event_id")


@migrations()
def m002_timers_roles_actions(db: Database) -> None:
    incidents = db.table("incidents")
    incidents.add_column("comms_lead", str)
    incidents.add_column("breached_at", str)
    db.table("timeline").add_column("edited_at", str)
    # Every edit of a timeline entry, with what it said before: the record must be auditable.
    db.table("timeline_edits").create(
        {
            "id": int,
            "entry_id": int,
            "edited_at": str,
            "editor": str,
            "old_at": str,
            "old_text": str,
            "new_at": str,
            "new_text": str,
        },
        pk="id",
        foreign_keys=[("entry_id", "timeline", "id")],
    )
    # One pending timer per incident and kind; due_at NULL means disarmed. Kept in SQLite so
    # an escalation or a reminder survives a restart.
    db.table("timers").create(
        {"incident_id": int, "kind": str, "due_at": str},
        pk=("incident_id", "kind"),
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("timers").create_index(["due_at"])
    db.table("action_items").create(
        {
            "id": int,
            "incident_id": int,
            "owner": str,
            "text": str,
            "due": str,
            "created_by": str,
            "created_at": str,
            "done_at": str,
        },
        pk="id",
        foreign_keys=[("incident_id", "incidents", "id")],
        not_null={"incident_id", "text", "created_at"},
    )


@migrations()
def m003_oncall(db: Database) -> None:
    db.table("oncall_rotation").create(
        {"id": int, "members": str, "anchor": str, "updated_by": str, "updated_at": str}, pk="id"
    )
    db.table("oncall_overrides").create(
        {
            "id": int,
            "user": str,
            "starts_at": str,
            "ends_at": str,
            "reason": str,
            "created_by": str,
            "created_at": str,
        },
        pk="id",
        not_null={"user", "starts_at", "ends_at"},
    )
    db.table("oncall_swaps").create(
        {
            "id": int,
            "requester": str,
            "target": str,
            "give_start": str,
            "give_end": str,
            "take_start": str,
            "take_end": str,
            "status": str,
            "created_at": str,
            "decided_at": str,
        },
        pk="id",
    )
    # Who changed the rotation, how and when: every set, override and swap.
    db.table("oncall_audit").create(
        {"id": int, "at": str, "actor": str, "action": str, "detail": str}, pk="id"
    )
    # Small facts the bot must remember across restarts (the last handover announced, ...).
    db.table("bot_state").create({"key": str, "value": str}, pk="key")


@migrations()
def m004_health(db: Database) -> None:
    db.table("health_readings").create(
        {"id": int, "at": str, "check_name": str, "state": str, "value": float, "summary": str},
        pk="id",
    )
    db.table("health_readings").create_index(["check_name", "at"])
    # One row per alert episode: the message that is updated in place until recovery.
    db.table("health_episodes").create(
        {
            "id": int,
            "check_name": str,
            "state": str,
            "started_at": str,
            "ended_at": str,
            "channel": str,
            "ts": str,
            "incident_id": int,
            "ok_streak": int,
        },
        pk="id",
    )


@migrations()
def m005_backups(db: Database) -> None:
    # A backup is "running" until it is proven "ok"; a crash leaves "running" rows that the
    # next start marks "failed". Only "ok" rows are ever offered for verify or restore.
    db.table("backups").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "engine": str,
            "database": str,
            "path": str,
            "size": int,
            "sha256": str,
            "counts": str,
            "reason": str,
            "error": str,
            "verified_at": str,
            "verify_result": str,
        },
        pk="id",
        not_null={"started_at", "status", "engine", "database", "path"},
    )


@migrations()
def m006_care_log(db: Database) -> None:
    # What database care deleted or archived, by whom: counts recorded before and after.
    db.table("care_log").create(
        {"id": int, "at": str, "actor": str, "action": str, "counts": str}, pk="id"
    )


@migrations()
def m007_rollbacks(db: Database) -> None:
    # One row per rollback. "running" doubles as the lock: a second one is refused while it
    # exists, and a crash leaves it, to be marked "interrupted" at the next start.
    db.table("rollbacks").create(
        {
            "id": int,
            "tag": str,
            "from_tag": str,
            "incident_id": int,
            "requested_by": str,
            "approvals": str,
            "status": str,
            "created_at": str,
            "started_at": str,
            "finished_at": str,
            "steps": str,
            "channel": str,
            "ts": str,
            "thread_ts": str,
        },
        pk="id",
    )


@migrations()
def m008_job_runs(db: Database) -> None:
    # One row per scheduled occurrence of a job: claimed before it runs, so a restart neither
    # repeats a run that happened nor loses one that was due.
    db.table("job_runs").create(
        {
            "job": str,
            "scheduled_for": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "summary": str,
        },
        pk=("job", "scheduled_for"),
    )


@migrations()
def m009_digests(db: Database) -> None:
    db.table("digests").create(
        {
            "id": int,
            "kind": str,
            "day": str,
            "channel": str,
            "ts": str,
            "posted_at": str,
            "sections": str,
        },
        pk="id",
    )
    db.table("digests").create_index(["channel", "ts"])
    # Who reviewed what (a check of a daily digest, or "all"), and checklist items done.
    db.table("digest_marks").create(
        {"digest_id": int, "item": str, "user": str, "at": str},
        pk=("digest_id", "item", "user"),
        foreign_keys=[("digest_id", "digests", "id")],
    )


@migrations()
def m010_security(db: Database) -> None:
    # Each audit's findings by fingerprint (never the secret itself), to mark what persists.
    db.table("security_runs").create({"id": int, "at": str, "summary": str}, pk="id")
    db.table("security_findings").create(
        {"run_id": int, "fingerprint": str, "check_name": str, "severity": str, "title": str},
        pk=("run_id", "fingerprint"),
        foreign_keys=[("run_id", "security_runs", "id")],
    )


@migrations()
def m011_public_status(db: Database) -> None:
    # What the public may see: a public title and public updates, written by the commander.
    db.table("incidents").add_column("public_title", str)
    db.table("public_updates").create(
        {"id": int, "incident_id": int, "at": str, "text": str, "actor": str},
        pk="id",
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("public_updates").create_index(["incident_id", "at"])


def now_utc() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


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


@dataclass(frozen=True)
class Postmortem:
    incident_id: int
    markdown: str
    notice: str
    written_at: datetime


_TIME_FIELDS = {"opened_at", "acked_at", "mitigated_at", "resolved_at", "breached_at"}


def _incident(row: dict[str, Any]) -> Incident:
    values: dict[str, Any] = {
        k: (_parse(v) if k in _TIME_FIELDS else v) for k, v in row.items() if k != "id"
    }
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
    )


_INCIDENT_COLUMNS = {f for f in Incident.__dataclass_fields__ if f != "number"}


def _query(db: Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _insert(db: Database, table: str, row: dict[str, Any], or_ignore: bool = False) -> Cursor:
    # Column names come from our dataclasses, never from input; values are always bound.
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    marks = ", ".join("?" for _ in row)
    sql = f"{verb} INTO {table} ({', '.join(row)}) VALUES ({marks})"
    return db.execute(sql, list(row.values()))


def _update(db: Database, number: int, fields: dict[str, Any]) -> None:
    assert set(fields) <= _INCIDENT_COLUMNS, set(fields) - _INCIDENT_COLUMNS
    assignments = ", ".join(f"{name} = ?" for name in fields)
    db.execute(f"UPDATE incidents SET {assignments} WHERE id = ?", [*fields.values(), number])


def _insert_entries(db: Database, number: int, entries: tuple[Entry, ...]) -> int:
    """Insert entries; returns how many were new. A source already on this timeline (a
    retried event, a second pin of the same message) adds nothing."""
    added = 0
    for entry in entries:
        row = {"incident_id": number, **_row(entry.__dict__)}
        added += _insert(db, "timeline", row, or_ignore=True).rowcount
    return added


def _set_timers(db: Database, number: int, timers: dict[str, datetime | None]) -> None:
    rows = [(number, kind, _iso(due)) for kind, due in timers.items()]
    db.conn.executemany(
        "INSERT INTO timers (incident_id, kind, due_at) VALUES (?, ?, ?) "
        "ON CONFLICT (incident_id, kind) DO UPDATE SET due_at = excluded.due_at",
        rows,
    )


def _audit(db: Database, now: datetime, actor: str, action: str, detail: str) -> None:
    _insert(
        db, "oncall_audit", {"at": _iso(now), "actor": actor, "action": action, "detail": detail}
    )


def _add_override(
    db: Database, user: str, start: datetime, end: datetime, reason: str, actor: str, now: datetime
) -> int:
    row = {
        "user": user,
        "starts_at": _iso(start),
        "ends_at": _iso(end),
        "reason": reason,
        "created_by": actor,
        "created_at": _iso(now),
    }
    item = _insert(db, "oncall_overrides", row).lastrowid
    assert item is not None
    _audit(db, now, actor, "override", f"{user} {_iso(start)}..{_iso(end)} ({reason})")
    return item


@dataclass(frozen=True)
class ActionItem:
    id: int
    incident: int
    owner: str
    text: str
    due: str | None
    done_at: datetime | None


@dataclass(frozen=True)
class Timer:
    incident: int
    kind: str
    due_at: datetime


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()

    def migrate(self) -> None:
        """Create or upgrade the schema; called once at start-up."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._write_lock, self._connect() as db:
            db.enable_wal()
            migrations.apply(db)

    @contextmanager
    def _connect(self) -> Iterator[Database]:
        """This thread's connection: opened once per thread, since a connection is bound to the
        thread that made it, and closing the last one to a WAL file checkpoints it (slow)."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            db = self._local.db = Database(conn, execute_plugins=False)
        yield db

    @contextmanager
    def _write(self) -> Iterator[Database]:
        # Writers in this process queue on a lock: SQLite's own busy handler sleeps in coarse
        # steps (up to 100 ms) and would turn 20 concurrent commands into seconds of waiting.
        if not self._write_lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise StoreBusy
        try:
            with self._connect() as db:
                try:
                    db.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:  # another process holds the file
                    raise StoreBusy from exc
                try:
                    yield db
                except BaseException:
                    db.conn.execute("ROLLBACK")
                    raise
                db.conn.execute("COMMIT")
        finally:
            self._write_lock.release()

    def ping(self) -> bool:
        with self._connect() as db:
            return db.execute("SELECT count(*) FROM incidents").fetchone() is not None

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

    def incident_by_card(self, channel: str, ts: str) -> Incident | None:
        sql = "SELECT * FROM incidents WHERE card_channel = ? AND card_ts = ?"
        with self._connect() as db:
            rows = _query(db, sql, [channel, ts])
        return _incident(rows[0]) if rows else None

    def incidents(self, *, open_only: bool, limit: int = 50) -> list[Incident]:
        where = "WHERE status != 'resolved'" if open_only else ""
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM incidents {where} ORDER BY id DESC LIMIT ?", [limit])
        return [_incident(row) for row in rows]

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
            return db.execute(sql, [number, source]).rowcount > 0

    def edit_entry(
        self,
        number: int,
        entry_id: int,
        *,
        text: str | None,
        at: datetime | None,
        editor: str,
        now: datetime,
    ) -> Entry | None:
        """Change an entry's text or time, keeping the old values in timeline_edits."""
        sql = "SELECT * FROM timeline WHERE id = ? AND incident_id = ?"
        with self._write() as db:
            rows = _query(db, sql, [entry_id, number])
            if not rows:
                return None
            old = _entry(rows[0])
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
            db.execute(
                "UPDATE timeline SET at = ?, text = ?, edited_at = ? WHERE id = ?",
                [_iso(new_at), new_text, _iso(now), entry_id],
            )
        return replace(old, at=new_at, text=new_text, edited_at=now)

    def edits(self, entry_id: int) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _query(
                db, "SELECT * FROM timeline_edits WHERE entry_id = ? ORDER BY id", [entry_id]
            )

    def timeline(self, number: int) -> list[Entry]:
        sql = "SELECT * FROM timeline WHERE incident_id = ? ORDER BY at, id"
        with self._connect() as db:
            return [_entry(row) for row in _query(db, sql, [number])]

    # Action items ------------------------------------------------------------------------

    def add_action(
        self, number: int, *, owner: str, text: str, due: str | None, actor: str, now: datetime
    ) -> int:
        row = {
            "incident_id": number,
            "owner": owner,
            "text": text,
            "due": due,
            "created_by": actor,
            "created_at": _iso(now),
        }
        with self._write() as db:
            item = _insert(db, "action_items", row).lastrowid
        assert item is not None
        return item

    def actions(self, number: int) -> list[ActionItem]:
        sql = "SELECT * FROM action_items WHERE incident_id = ? ORDER BY id"
        with self._connect() as db:
            rows = _query(db, sql, [number])
        return [
            ActionItem(
                r["id"], r["incident_id"], r["owner"], r["text"], r["due"], _parse(r["done_at"])
            )
            for r in rows
        ]

    def finish_action(self, number: int, item: int, now: datetime) -> bool:
        sql = (
            "UPDATE action_items SET done_at = ? "
            "WHERE id = ? AND incident_id = ? AND done_at IS NULL"
        )
        with self._write() as db:
            return db.execute(sql, [_iso(now), item, number]).rowcount > 0

    # Post-mortems ------------------------------------------------------------------------

    def save_postmortem(self, number: int, markdown: str, notice: str, at: datetime) -> None:
        with self._write() as db:
            db.table("postmortems").upsert(
                {
                    "incident_id": number,
                    "markdown": markdown,
                    "notice": notice,
                    "written_at": _iso(at),
                },
                pk="incident_id",
            )

    def postmortem(self, number: int) -> Postmortem | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM postmortems WHERE incident_id = ?", [number])
        if not rows:
            return None
        row = rows[0]
        return Postmortem(
            row["incident_id"],
            row["markdown"],
            row["notice"],
            datetime.fromisoformat(row["written_at"]),
        )

    # On call -----------------------------------------------------------------------------

    def rotation(self) -> tuple[list[str], datetime] | None:
        """The stored rotation: members in order and the wall-clock anchor of the first week."""
        with self._connect() as db:
            rows = _query(db, "SELECT members, anchor FROM oncall_rotation WHERE id = 1")
        if not rows:
            return None
        return json.loads(rows[0]["members"]), datetime.fromisoformat(rows[0]["anchor"])

    def set_rotation(
        self, members: list[str], anchor: datetime, *, actor: str, now: datetime
    ) -> None:
        row = {
            "id": 1,
            "members": json.dumps(members),
            "anchor": anchor.isoformat(),
            "updated_by": actor,
            "updated_at": _iso(now),
        }
        with self._write() as db:
            db.execute("DELETE FROM oncall_rotation WHERE id = 1")
            _insert(db, "oncall_rotation", row)
            _audit(
                db, now, actor, "set", f"rotation {' '.join(members)} from {anchor:%Y-%m-%d %H:%M}"
            )

    def overrides(self, since: datetime) -> list[dict[str, Any]]:
        """Overrides still running or to come after `since`, oldest first."""
        sql = "SELECT * FROM oncall_overrides WHERE ends_at > ? ORDER BY id"
        with self._connect() as db:
            rows = _query(db, sql, [_iso(since)])
        return [
            {
                **r,
                "starts_at": datetime.fromisoformat(r["starts_at"]),
                "ends_at": datetime.fromisoformat(r["ends_at"]),
            }
            for r in rows
        ]

    def add_override(
        self, user: str, start: datetime, end: datetime, *, reason: str, actor: str, now: datetime
    ) -> int:
        with self._write() as db:
            return _add_override(db, user, start, end, reason, actor, now)

    def request_swap(
        self,
        requester: str,
        target: str,
        give: tuple[datetime, datetime],
        take: tuple[datetime, datetime],
        now: datetime,
    ) -> int:
        row = {
            "requester": requester,
            "target": target,
            "give_start": _iso(give[0]),
            "give_end": _iso(give[1]),
            "take_start": _iso(take[0]),
            "take_end": _iso(take[1]),
            "status": "pending",
            "created_at": _iso(now),
        }
        with self._write() as db:
            swap = _insert(db, "oncall_swaps", row).lastrowid
            _audit(db, now, requester, "swap-request", f"S{swap} with {target}")
        assert swap is not None
        return swap

    def swap(self, swap_id: int) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM oncall_swaps WHERE id = ?", [swap_id])
        if not rows:
            return None
        times = ("give_start", "give_end", "take_start", "take_end")
        return {**rows[0], **{k: datetime.fromisoformat(rows[0][k]) for k in times}}

    def decide_swap(self, swap_id: int, accepted: bool, *, actor: str, now: datetime) -> bool:
        """Accept (both overrides, at once) or decline a pending swap; False if not pending."""
        with self._write() as db:
            rows = _query(
                db, "SELECT * FROM oncall_swaps WHERE id = ? AND status = 'pending'", [swap_id]
            )
            if not rows:
                return False
            swap = rows[0]
            status = "accepted" if accepted else "declined"
            db.execute(
                "UPDATE oncall_swaps SET status = ?, decided_at = ? WHERE id = ?",
                [status, _iso(now), swap_id],
            )
            if accepted:
                give = (
                    datetime.fromisoformat(swap["give_start"]),
                    datetime.fromisoformat(swap["give_end"]),
                )
                take = (
                    datetime.fromisoformat(swap["take_start"]),
                    datetime.fromisoformat(swap["take_end"]),
                )
                _add_override(db, swap["target"], *give, f"swap S{swap_id}", actor, now)
                _add_override(db, swap["requester"], *take, f"swap S{swap_id}", actor, now)
            _audit(db, now, actor, f"swap-{status}", f"S{swap_id}")
        return True

    def audit(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _query(db, "SELECT * FROM oncall_audit ORDER BY id DESC LIMIT ?", [limit])

    def state(self, key: str) -> str | None:
        with self._connect() as db:
            rows = _query(db, "SELECT value FROM bot_state WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_state(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO bot_state VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value",
                [key, value],
            )

    # Health ------------------------------------------------------------------------------

    def add_readings(
        self, at: datetime, readings: list[tuple[str, str, float | None, str]], keep: timedelta
    ) -> None:
        with self._write() as db:
            for check, state, value, summary in readings:
                _insert(
                    db,
                    "health_readings",
                    {
                        "at": _iso(at),
                        "check_name": check,
                        "state": state,
                        "value": value,
                        "summary": summary,
                    },
                )
            db.execute("DELETE FROM health_readings WHERE at < ?", [_iso(at - keep)])

    def readings(self, check: str, since: datetime) -> list[dict[str, Any]]:
        sql = "SELECT * FROM health_readings WHERE check_name = ? AND at >= ? ORDER BY at"
        with self._connect() as db:
            rows = _query(db, sql, [check, _iso(since)])
        return [{**r, "at": datetime.fromisoformat(r["at"])} for r in rows]

    def open_episode(self, check: str) -> dict[str, Any] | None:
        sql = "SELECT * FROM health_episodes WHERE check_name = ? AND ended_at IS NULL"
        with self._connect() as db:
            rows = _query(db, sql, [check])
        return rows[0] if rows else None

    def save_episode(self, episode: dict[str, Any]) -> int:
        with self._write() as db:
            if episode.get("id"):
                fields = {k: v for k, v in episode.items() if k != "id"}
                sets = ", ".join(f"{k} = ?" for k in fields)
                db.execute(
                    f"UPDATE health_episodes SET {sets} WHERE id = ?",
                    [*fields.values(), episode["id"]],
                )
                return int(episode["id"])
            row_id = _insert(db, "health_episodes", episode).lastrowid
        assert row_id is not None
        return row_id

    # Backups -----------------------------------------------------------------------------

    def start_backup(
        self, engine: str, database: str, path: str, reason: str, now: datetime
    ) -> int | None:
        """Record a running backup; None if one is running already (one at a time)."""
        with self._write() as db:
            if _query(db, "SELECT id FROM backups WHERE status = 'running'"):
                return None
            row = {
                "started_at": _iso(now),
                "status": "running",
                "engine": engine,
                "database": database,
                "path": path,
                "reason": reason,
            }
            return _insert(db, "backups", row).lastrowid

    def finish_backup(self, backup_id: int, **fields: Any) -> None:
        allowed = {
            "finished_at",
            "status",
            "size",
            "sha256",
            "counts",
            "error",
            "path",
            "verified_at",
            "verify_result",
        }
        assert set(fields) <= allowed, set(fields) - allowed
        values = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._write() as db:
            db.execute(f"UPDATE backups SET {sets} WHERE id = ?", [*values.values(), backup_id])

    def backups(self, *, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first."""
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        return self._backup_rows(f"{where} ORDER BY id DESC LIMIT ?", [*args, limit])

    def backup(self, backup_id: int) -> dict[str, Any] | None:
        rows = self._backup_rows("WHERE id = ?", [backup_id])
        return rows[0] if rows else None

    def _backup_rows(self, tail: str, args: list[Any]) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM backups {tail}", args)
        for row in rows:
            row["counts"] = json.loads(row["counts"]) if row["counts"] else {}
            for key in ("started_at", "finished_at", "verified_at"):
                row[key] = _parse(row[key])
        return rows

    def log_care(self, at: datetime, actor: str, action: str, counts: dict[str, int]) -> None:
        with self._write() as db:
            _insert(
                db,
                "care_log",
                {"at": _iso(at), "actor": actor, "action": action, "counts": json.dumps(counts)},
            )

    def care_log(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _query(db, "SELECT * FROM care_log ORDER BY id")

    # Rollbacks ---------------------------------------------------------------------------

    def add_rollback(self, row: dict[str, Any]) -> int:
        with self._write() as db:
            rollback_id = _insert(db, "rollbacks", row).lastrowid
        assert rollback_id is not None
        return rollback_id

    def rollback(self, rollback_id: int) -> dict[str, Any] | None:
        rows = self.rollbacks("WHERE id = ?", [rollback_id])
        return rows[0] if rows else None

    def rollbacks(self, where: str = "", args: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM rollbacks {where} ORDER BY id DESC", args or [])
        for row in rows:
            row["approvals"] = json.loads(row["approvals"] or "[]")
            row["steps"] = json.loads(row["steps"] or "[]")
        return rows

    def update_rollback(self, rollback_id: int, **fields: Any) -> None:
        values = {
            k: json.dumps(v) if isinstance(v, list) else (_iso(v) if isinstance(v, datetime) else v)
            for k, v in fields.items()
        }
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._write() as db:
            db.execute(f"UPDATE rollbacks SET {sets} WHERE id = ?", [*values.values(), rollback_id])

    def claim_rollback(self, rollback_id: int, now: datetime) -> bool:
        """pending -> running, only if no other rollback is running: the lock."""
        with self._write() as db:
            if _query(db, "SELECT id FROM rollbacks WHERE status = 'running'"):
                return False
            cursor = db.execute(
                "UPDATE rollbacks SET status = 'running', started_at = ? "
                "WHERE id = ? AND status = 'pending'",
                [_iso(now), rollback_id],
            )
            return cursor.rowcount == 1

    # Job runs ----------------------------------------------------------------------------

    def claim_run(self, job: str, scheduled_for: datetime, now: datetime) -> bool:
        """True if this occurrence has not run (or was interrupted): it is now running."""
        with self._write() as db:
            rows = _query(
                db,
                "SELECT status FROM job_runs WHERE job = ? AND scheduled_for = ?",
                [job, _iso(scheduled_for)],
            )
            if rows and rows[0]["status"] != "interrupted":
                return False
            db.execute(
                "INSERT OR REPLACE INTO job_runs (job, scheduled_for, started_at, status) "
                "VALUES (?, ?, ?, 'running')",
                [job, _iso(scheduled_for), _iso(now)],
            )
            return True

    def finish_run(
        self, job: str, scheduled_for: datetime, status: str, summary: str, now: datetime
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE job_runs SET status = ?, summary = ?, finished_at = ? "
                "WHERE job = ? AND scheduled_for = ?",
                [status, summary[:2000], _iso(now), job, _iso(scheduled_for)],
            )

    def interrupt_runs(self) -> int:
        """At start-up: runs left 'running' by a crash may run again."""
        with self._write() as db:
            return db.execute(
                "UPDATE job_runs SET status = 'interrupted' WHERE status = 'running'"
            ).rowcount

    def last_run(self, job: str) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT * FROM job_runs WHERE job = ? ORDER BY scheduled_for DESC LIMIT 1",
                [job],
            )
        return rows[0] if rows else None

    # Digests -----------------------------------------------------------------------------

    def add_digest(
        self,
        kind: str,
        day: str,
        channel: str,
        ts: str,
        now: datetime,
        sections: list[dict[str, str]],
    ) -> int:
        row = {
            "kind": kind,
            "day": day,
            "channel": channel,
            "ts": ts,
            "posted_at": _iso(now),
            "sections": json.dumps(sections),
        }
        with self._write() as db:
            digest_id = _insert(db, "digests", row).lastrowid
        assert digest_id is not None
        return digest_id

    def set_digest_message(self, digest_id: int, channel: str, ts: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE digests SET channel = ?, ts = ? WHERE id = ?", [channel, ts, digest_id]
            )

    def digests(self, where: str = "", args: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM digests {where} ORDER BY id", args or [])
        for row in rows:
            row["sections"] = json.loads(row["sections"] or "[]")
        return rows

    def mark(
        self, digest_id: int, item: str, user: str, now: datetime, *, add: bool = True
    ) -> bool:
        """Record (or with add=False remove) that `user` did `item`; False if nothing changed."""
        with self._write() as db:
            if add:
                return (
                    db.execute(
                        "INSERT OR IGNORE INTO digest_marks VALUES (?, ?, ?, ?)",
                        [digest_id, item, user, _iso(now)],
                    ).rowcount
                    == 1
                )
            return (
                db.execute(
                    "DELETE FROM digest_marks WHERE digest_id = ? AND item = ? AND user = ?",
                    [digest_id, item, user],
                ).rowcount
                == 1
            )

    def marks(self, digest_id: int) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _query(
                db, "SELECT * FROM digest_marks WHERE digest_id = ? ORDER BY at", [digest_id]
            )

    # Security audits ---------------------------------------------------------------------

    def add_security_run(
        self, at: datetime, summary: dict[str, Any], findings: list[tuple[str, str, str, str]]
    ) -> int:
        with self._write() as db:
            run_id = _insert(
                db, "security_runs", {"at": _iso(at), "summary": json.dumps(summary)}
            ).lastrowid
            assert run_id is not None
            for fingerprint, check, severity, title in findings:
                db.execute(
                    "INSERT OR IGNORE INTO security_findings VALUES (?, ?, ?, ?, ?)",
                    [run_id, fingerprint, check, severity, title],
                )
        return run_id

    def security_runs(self, limit: int = 2) -> list[dict[str, Any]]:
        with self._connect() as db:
            runs = _query(db, "SELECT * FROM security_runs ORDER BY id DESC LIMIT ?", [limit])
            for run in runs:
                run["summary"] = json.loads(run["summary"])
                run["fingerprints"] = {
                    r["fingerprint"]
                    for r in _query(
                        db,
                        "SELECT fingerprint FROM security_findings WHERE run_id = ?",
                        [run["id"]],
                    )
                }
        return runs

    def security_finding(self, run_id: int, mark: str) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT * FROM security_findings WHERE run_id = ? AND fingerprint = ?",
                [run_id, mark],
            )
        return rows[0] if rows else None

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

    def public_updates(self, number: int) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT at, text FROM public_updates WHERE incident_id = ? ORDER BY at",
                [number],
            )
        return [{"at": datetime.fromisoformat(r["at"]), "text": r["text"]} for r in rows]

    def public_incidents(self, since: datetime) -> list[Incident]:
        """Incidents with at least one public update, opened since `since` or still open."""
        sql = (
            "SELECT * FROM incidents WHERE id IN (SELECT incident_id FROM public_updates) "
            "AND (opened_at >= ? OR status != 'resolved') ORDER BY id DESC"
        )
        with self._connect() as db:
            return [_incident(row) for row in _query(db, sql, [_iso(since)])]

    # Slack delivery ----------------------------------------------------------------------

    def first_sighting(self, event_id: str, now: datetime, keep: timedelta) -> bool:
        """Record an Events API delivery; False when this event_id was seen before."""
        with self._write() as db:
            db.execute("DELETE FROM seen_events WHERE seen_at < ?", [_iso(now - keep)])
            cursor = db.execute(
                "INSERT OR IGNORE INTO seen_events VALUES (?, ?)", [event_id, _iso(now)]
            )
            return cursor.rowcount == 1
