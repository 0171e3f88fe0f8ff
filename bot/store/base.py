"""Connections, transactions and the small facts every part of the store shares."""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from sqlite3 import Cursor
from typing import Any

from sqlite_utils import Database

from bot.redact import as_json, redact

# A write waits at most this long in all, for this process's other writers and for SQLite's
# lock together: the answer to a slash command is due in 3 s, and "busy, nothing changed" is
# better than Slack's timeout with the change made behind it.
WRITE_BUDGET_SECONDS = 2.2
BUSY_TIMEOUT_MS = int(WRITE_BUDGET_SECONDS * 1000)


INSTANCE_KEY = "opsbot.instance"
SETUP_CHECKS_KEY = "doctor.at_start"  # the checks `opsbot serve` ran at start, for the App Home
UPGRADE_COPIES = 5  # copies of the file taken before upgrades, kept beside it
MIN_FREE_BYTES = 1 << 20  # less free space than this after a "disk full" is still full


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB"


def serve_lock(path: Path | str) -> Path:
    """The file `opsbot serve` holds locked while it owns the database at `path`."""
    return Path(f"{path}.serve.lock")


class NewerDatabase(Exception):
    """The file's schema has migrations this opsbot does not know: it is left untouched."""


class CannotUpgrade(Exception):
    """The copy taken before an upgrade could not be written (disk full, read-only): the file
    was not touched and the upgrade did not start."""


class StoreBusy(Exception):
    """Another writer held the database past BUSY_TIMEOUT_MS; nothing was written."""


class StoreUnwritable(Exception):
    """The database cannot be written (disk full, a read-only file or mount, an I/O error);
    nothing was written. The reason is short and safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# What SQLite says when the file cannot take a write, and how opsbot says it.
_UNWRITABLE = {
    "database or disk is full": "the disk is full",
    "readonly database": "the database is read-only",
    "disk i/o error": "a disk I/O error",
    "unable to open database file": "the file cannot be opened",
}


def unwritable(exc: BaseException) -> str | None:
    """Why SQLite could not write, when `exc` says the file cannot take writes."""
    if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        return None
    text = str(exc).lower()
    return next((why for found, why in _UNWRITABLE.items() if found in text), None)


# A signed request can be replayed within Slack's 5-minute window; its key is kept longer.
REPLAY_KEYS_KEPT = timedelta(minutes=10)


# One write in a hundred also forgets rows past their keeping time (seen keys, finished
# outbox and inbox rows): the delete scans, so it is not on every write.
PRUNE_ODDS = 0.01


class Replayed(Exception):
    """This request (same trigger_id or click) was handled before; nothing was done again."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _query(db: Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _cell(value: Any) -> Any:
    """A value as it is written to the file, with no secret in clear (bot/redact.py): text
    redacted; a dict or list (a JSON column) masked value by value, then serialised. Never
    the other way round: masking JSON text can break it, and then every read of the row."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict | list):
        return as_json(value)
    return value


def _insert(db: Database, table: str, row: dict[str, Any], or_ignore: bool = False) -> Cursor:
    # Column names come from our dataclasses, never from input; values are always bound.
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    marks = ", ".join("?" for _ in row)
    sql = f"{verb} INTO {table} ({', '.join(row)}) VALUES ({marks})"
    return db.execute(sql, [_cell(value) for value in row.values()])


class StoreBase:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        # Every connection this store opened, with the thread it belongs to. CPython's sqlite3
        # connection sits in a reference cycle, so one dropped without close() keeps its file
        # handles until the garbage collector runs; with a thread per job run that is a slow
        # leak, and past 1024 descriptors select() fails. They are closed when their thread has
        # ended (checked whenever a connection is opened) and all at once by close().
        self._opened: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._opened_lock = threading.Lock()
        # Called after a commit that queued outbox rows, so delivery starts at once.
        self.on_enqueue: Callable[[], None] | None = None
        # Called after an Events API delivery is stored in the inbox.
        self.on_receive: Callable[[], None] | None = None
        # Why the last write failed, when the file could not take it (disk full, read-only);
        # None once a write succeeds.
        self.write_problem: str | None = None

    @contextmanager
    def _connect(self) -> Iterator[Database]:
        """This thread's connection: opened once per thread, since a connection is bound to the
        thread that made it, and closing the last one to a WAL file checkpoints it (slow)."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            # Only its own thread uses it; check_same_thread=False lets close() end it from another.
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            with self._opened_lock:
                self._close_where(lambda thread: not thread.is_alive())
                self._opened.append((threading.current_thread(), conn))
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            db = self._local.db = Database(conn, execute_plugins=False)
        yield db

    def _close_where(self, ended: Callable[[threading.Thread], bool]) -> None:
        kept = []
        for thread, conn in self._opened:
            if ended(thread):
                conn.close()
            else:
                kept.append((thread, conn))
        self._opened = kept

    def close(self) -> None:
        """Close every connection this store opened; for the end of a process or a test, when
        no thread uses the store any more."""
        with self._opened_lock:
            self._close_where(lambda thread: True)
        self._local = threading.local()

    def __del__(self) -> None:
        # A store nobody holds can be used by no thread, so its connections can go now rather
        # than at the next garbage collection.
        with contextlib.suppress(Exception):
            self.close()

    @contextmanager
    def atomic(self, once: str | None = None) -> Iterator[None]:
        """One transaction around everything inside it: a command's change and the effects it
        owes (outbox rows) commit together or not at all, within one write budget. With
        `once` (a request's replay key), a request seen before raises Replayed instead."""
        with self._write():
            if once is not None and not self.first_sighting(once, now_utc(), REPLAY_KEYS_KEPT):
                raise Replayed(once)
            yield

    @contextmanager
    def _write(self) -> Iterator[Database]:
        """A write transaction; inside another one on this thread it joins it (a savepoint),
        so a whole command commits once. Waiting for this process's other writers and for
        SQLite's lock together never exceeds WRITE_BUDGET_SECONDS; past it, StoreBusy and
        nothing is written."""
        depth: int = getattr(self._local, "depth", 0)
        if depth:
            yield from self._savepoint(depth)
            return
        deadline = time.monotonic() + WRITE_BUDGET_SECONDS
        # Writers in this process queue on a lock: SQLite's own busy handler sleeps in coarse
        # steps (up to 100 ms) and would turn 20 concurrent commands into seconds of waiting.
        if not self._write_lock.acquire(timeout=WRITE_BUDGET_SECONDS):
            raise StoreBusy
        try:
            with self._connect() as db:
                left_ms = max(1, int((deadline - time.monotonic()) * 1000))
                db.conn.execute(f"PRAGMA busy_timeout = {left_ms}")
                try:
                    db.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:  # another process holds the file
                    raise self._failure(exc) or StoreBusy() from exc
                self._local.depth, self._local.enqueued = 1, False
                try:
                    yield db
                    db.conn.execute("COMMIT")
                except BaseException as exc:
                    with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back
                        db.conn.execute("ROLLBACK")
                    failure = self._failure(exc)
                    if failure is not None:
                        raise failure from exc
                    raise
                finally:
                    self._local.depth = 0
            if self.write_problem is not None and self._has_room():
                self.write_problem = None
            if self._local.enqueued and self.on_enqueue is not None:
                self.on_enqueue()
        finally:
            self._write_lock.release()

    def _has_room(self) -> bool:
        """A write that succeeds on a full disk (SQLite reuses its WAL's space) does not mean
        the disk has room again: that takes free space."""
        try:
            return shutil.disk_usage(Path(self.path).parent).free >= MIN_FREE_BYTES
        except OSError:
            return False

    def _failure(self, exc: BaseException) -> StoreUnwritable | None:
        """A write that failed because the file cannot take writes: remembered (/healthz
        says it until a write succeeds) and raised as StoreUnwritable."""
        reason = unwritable(exc)
        if reason is None:
            return None
        self.write_problem = reason
        return StoreUnwritable(reason)

    def _savepoint(self, depth: int) -> Iterator[Database]:
        db: Database = self._local.db
        name = f"nested{depth}"
        db.conn.execute(f"SAVEPOINT {name}")
        self._local.depth = depth + 1
        try:
            yield db
        except BaseException:
            db.conn.execute(f"ROLLBACK TO {name}")
            raise
        finally:
            self._local.depth = depth
            db.conn.execute(f"RELEASE {name}")

    def ping(self) -> bool:
        with self._connect() as db:
            return db.execute("SELECT count(*) FROM incidents").fetchone() is not None

    # Small facts kept across restarts ---------------------------------------------------

    def instance(self) -> str:
        """This database's own id, made once: what opsbot's Slack messages carry to tell its
        own from another opsbot's in the same channel."""
        known: str | None = getattr(self, "_instance", None)
        if known is None:
            with self._write() as db:
                db.execute(
                    "INSERT OR IGNORE INTO bot_state VALUES (?, ?)",
                    [INSTANCE_KEY, uuid.uuid4().hex[:12]],
                )
            known = self.state(INSTANCE_KEY)
            assert known is not None
            self._instance = known
        return known

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

    # Slack delivery ----------------------------------------------------------------------

    def first_sighting(self, event_id: str, now: datetime, keep: timedelta) -> bool:
        """Record a request's key (a replayable command or click); False when it was seen
        within `keep`. A key older than that counts as new; old keys are forgotten now and
        then (the delete scans the table, so not on every command)."""
        with self._write() as db:
            if random.random() < PRUNE_ODDS:
                db.execute("DELETE FROM seen_events WHERE seen_at < ?", [_iso(now - keep)])
            cursor = db.execute(
                "INSERT INTO seen_events VALUES (?, ?) ON CONFLICT (event_id) DO UPDATE "
                "SET seen_at = excluded.seen_at WHERE seen_events.seen_at < ?",
                [event_id, _iso(now), _iso(now - keep)],
            )
            return cursor.rowcount == 1
