"""Connections, transactions and the small facts every part of the store shares."""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Executable,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError

from bot.store import engines, fence
from bot.store.answers import answer_by
from bot.store.schema.records import incidents
from bot.store.schema.work import bot_state, seen_events
from bot.store.sql import _iso, now_utc, prebuilt, upsert

# A write waits at most this long in all, for this process's other writers and for SQLite's
# lock together: the answer to a slash command is due in 3 s, and "busy, nothing changed" is
# better than Slack's timeout with the change made behind it.
WRITE_BUDGET_SECONDS = 2.2
BUSY_TIMEOUT_MS = int(WRITE_BUDGET_SECONDS * 1000)


INSTANCE_KEY = "opsbot.instance"
SETUP_CHECKS_KEY = "doctor.at_start"  # the checks `opsbot serve` ran at start, for the App Home
UPGRADE_COPIES = 5  # copies of the file taken before upgrades, kept beside it
MIN_FREE_BYTES = 1 << 20  # less free space than this after a "disk full" is still full


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
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper around the driver's error
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


class Database:
    """The connections and transactions of one store: what every repository runs on. It
    holds no repository, so a store nobody holds is dropped at once, its connections closed."""

    def __init__(self, where: Path | str) -> None:
        """The SQLite file at `where`, or the PostgreSQL database `where` names (a
        postgresql:// URL)."""
        self.engine = engines.open_engine(where, WRITE_BUDGET_SECONDS)
        self.url: URL = self.engine.url
        # The SQLite file, or the database's URL with its password hidden (for messages).
        self.path = (self.url.database or "") if self.sqlite else engines.shown(self.url)
        self._local = threading.local()
        # Writers in this process queue on a lock on SQLite, only for speed: SQLite's own busy
        # handler sleeps in coarse steps (up to 100 ms) and would turn 20 concurrent commands
        # into seconds of waiting. Correctness never rests on it: every claim is one statement.
        self._write_lock = threading.Lock() if self.sqlite else None
        # Called after a commit that queued outbox rows, so delivery starts at once.
        self.on_enqueue: Callable[[], None] | None = None
        # Called after an Events API delivery is stored in the inbox.
        self.on_receive: Callable[[], None] | None = None
        # Why the last write failed, when the file could not take it (disk full, read-only);
        # None once a write succeeds.
        self.write_problem: str | None = None

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def owe(self) -> None:
        """The write under way queued outbox rows: wake delivery once it commits."""
        self._local.enqueued = True

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection for reading: inside a write on this thread, the write's own (it sees
        what the write changed so far), else one from the pool for as long as it is used."""
        held: Connection | None = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            failure = self._failure(exc)
            if failure is exc:
                raise
            raise failure from exc

    def close(self) -> None:
        """Close every connection this store opened; for the end of a process or a test, when
        no thread uses the store any more."""
        self.engine.dispose()
        self._local = threading.local()

    def __del__(self) -> None:
        # A store nobody holds can be used by no thread, so its connections can go now rather
        # than at the next garbage collection.
        with contextlib.suppress(Exception):
            self.close()

    @contextmanager
    def _write(self, savepoint: bool = False) -> Iterator[Connection]:
        """A write transaction; inside another one on this thread it joins it, so a whole
        command commits once (with `savepoint`, as a part undone alone when it fails: a
        nested atomic()). Waiting for the database's lock never exceeds WRITE_BUDGET_SECONDS;
        past it, StoreBusy and nothing is written."""
        held: Connection | None = getattr(self._local, "conn", None)
        if held is not None:
            if savepoint:
                yield from self._savepoint(held)
            else:  # a repository's statements inside a command: their failure fails it
                yield held
            return
        began = time.monotonic()
        deadline = min(began + WRITE_BUDGET_SECONDS, answer_by())
        if deadline <= began:
            raise StoreBusy
        if self._write_lock and not self._write_lock.acquire(timeout=deadline - began):
            raise StoreBusy
        try:
            with self._connect() as conn:
                try:
                    engines.begin_write(conn, deadline)
                    self._local.conn, self._local.enqueued = conn, False
                    fence.check(conn)  # work done as leader: only while the lease is its own
                    yield conn
                    conn.commit()
                except BaseException as exc:
                    with contextlib.suppress(DBAPIError):  # the database may have rolled back
                        conn.rollback()
                    failure = self._failure(exc)
                    if failure is exc:
                        raise
                    raise failure from exc
                finally:
                    self._local.conn = None
            if self.write_problem is not None and self._has_room():
                self.write_problem = None
            if self._local.enqueued and self.on_enqueue is not None:
                self.on_enqueue()
        finally:
            if self._write_lock:
                self._write_lock.release()

    def _savepoint(self, conn: Connection) -> Iterator[Connection]:
        """A write inside another, undone alone when it fails; said to the driver itself
        (SQLAlchemy's own savepoints cost several times the statements they guard)."""
        raw: Any = conn.connection.dbapi_connection
        depth: int = getattr(self._local, "depth", 0) + 1
        name = f"nested{depth}"
        raw.execute(f"SAVEPOINT {name}")
        self._local.depth = depth
        try:
            yield conn
        except BaseException:
            raw.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        finally:
            self._local.depth = depth - 1
            with contextlib.suppress(Exception):  # an aborted transaction has nothing to release
                raw.execute(f"RELEASE SAVEPOINT {name}")

    def _has_room(self) -> bool:
        """A write that succeeds on a full disk (SQLite reuses its WAL's space) does not mean
        the disk has room again: that takes free space."""
        if not self.sqlite:
            return True
        try:
            return shutil.disk_usage(Path(self.path).parent).free >= MIN_FREE_BYTES
        except OSError:
            return False

    def _failure(self, exc: BaseException) -> BaseException:
        """What a failed statement means to opsbot: the database busy past the write budget
        (StoreBusy), the file unable to take writes (StoreUnwritable, remembered: /healthz
        says it until a write succeeds), or `exc` itself."""
        if engines.busy(exc):
            return StoreBusy()
        reason = unwritable(exc)
        if reason is None:
            return exc
        self.write_problem = reason
        return StoreUnwritable(reason)


class Repository:
    """One domain's rows (incidents, on-call, the outbox, ...): its statements, run on the
    store's connections and inside its transactions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def sqlite(self) -> bool:
        return self.db.sqlite

    def _connect(self) -> contextlib.AbstractContextManager[Connection]:
        return self.db._connect()

    def _write(self) -> contextlib.AbstractContextManager[Connection]:
        return self.db._write()


class StoreBase(Repository):
    """The database's own: where it is, its transactions, and the small facts it keeps."""

    def __init__(self, where: Path | str) -> None:
        super().__init__(Database(where))

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def url(self) -> URL:
        return self.db.url

    @property
    def path(self) -> str:
        """The SQLite file, or the database's URL with its password hidden (for messages)."""
        return self.db.path

    @property
    def write_problem(self) -> str | None:
        return self.db.write_problem

    @property
    def on_enqueue(self) -> Callable[[], None] | None:
        return self.db.on_enqueue

    @on_enqueue.setter
    def on_enqueue(self, wake: Callable[[], None] | None) -> None:
        self.db.on_enqueue = wake

    @property
    def on_receive(self) -> Callable[[], None] | None:
        return self.db.on_receive

    @on_receive.setter
    def on_receive(self, wake: Callable[[], None] | None) -> None:
        self.db.on_receive = wake

    def close(self) -> None:
        """Close every connection this store opened; for the end of a process or a test, when
        no thread uses the store any more."""
        self.db.close()

    @contextmanager
    def atomic(self, once: str | None = None) -> Iterator[None]:
        """One transaction around everything inside it: a command's change and the effects it
        owes (outbox rows) commit together or not at all, within one write budget. With
        `once` (a request's replay key), a request seen before raises Replayed instead."""
        with self.db._write(savepoint=True):
            if once is not None and not self.first_sighting(once, now_utc(), REPLAY_KEYS_KEPT):
                raise Replayed(once)
            yield

    def ping(self) -> bool:
        with self._connect() as db:
            return db.execute(select(func.count()).select_from(incidents)).first() is not None

    # Small facts kept across restarts ---------------------------------------------------

    def instance(self) -> str:
        """This database's own id, made once: what opsbot's Slack messages carry to tell its
        own from another opsbot's in the same channel."""
        known: str | None = getattr(self, "_instance", None)
        if known is None:
            with self._write() as db:
                made = {"key": INSTANCE_KEY, "value": uuid.uuid4().hex[:12]}
                db.execute(upsert(db, bot_state).values(made).on_conflict_do_nothing())
            known = self.state(INSTANCE_KEY)
            assert known is not None
            self._instance = known
        return known

    def state(self, key: str) -> str | None:
        with self._connect() as db:
            return db.scalar(_STATE, {"key": key})

    def set_state(self, key: str, value: str) -> None:
        with self._write() as db:
            put = upsert(db, bot_state).values(key=key, value=value)
            db.execute(put.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    # Slack delivery ----------------------------------------------------------------------

    def first_sighting(self, event_id: str, now: datetime, keep: timedelta) -> bool:
        """Record a request's key (a replayable command or click); False when it was seen
        within `keep`. A key older than that counts as new; old keys are forgotten now and
        then (the delete scans the table, so not on every command)."""
        forgotten = _iso(now - keep)
        with self._write() as db:
            if random.random() < PRUNE_ODDS:
                db.execute(delete(seen_events).where(seen_events.c.seen_at < forgotten))
            seen = {"event_id": event_id, "seen_at": _iso(now), "forgotten": forgotten}
            return db.execute(_SIGHTING(db), seen).first() is not None


_STATE = select(bot_state.c.value).where(bot_state.c.key == bindparam("key"))


@prebuilt
def _SIGHTING(dialect: str) -> Executable:  # noqa: N802  (a statement, named as the others)
    """A key's sighting: a row when it is new, or when its last sighting is forgotten."""
    seen = upsert(dialect, seen_events).values(
        event_id=bindparam("event_id"), seen_at=bindparam("seen_at")
    )
    new = seen.on_conflict_do_update(
        index_elements=["event_id"],
        set_={"seen_at": seen.excluded.seen_at},
        where=seen_events.c.seen_at < bindparam("forgotten"),
    )
    # RETURNING, not rowcount: an INSERT's rowcount is not reliable on every driver
    return new.returning(seen_events.c.event_id)  # type: ignore[no-any-return]
