"""The two engines the store runs on, through SQLAlchemy: SQLite (a file, the default) and
PostgreSQL (OPSBOT_DATABASE_URL). What differs between them is here and nowhere else: how a
connection is set up, how a write transaction starts within its budget, and which of the
driver's errors mean "busy".
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry

POOL_SIZE = 24  # connections kept open: as many as the threads that hold one under a 20-burst
POOL_BURST = 16  # opened beyond them for a longer burst, closed after it
CONNECT_SECONDS = 2  # an unreachable PostgreSQL is known in this time, not TCP's minutes
IDLE_CHECK_SECONDS = 1.0  # a PostgreSQL connection idle longer is checked before it is used

# SQLSTATEs of PostgreSQL that mean "try again": a lock not had in time (55P03), the budget
# spent (57014), a serialization failure or deadlock (40001, 40P01), the server shutting
# down or starting (57P01, 57P02, 57P03).
_PG_BUSY = {"55P03", "57014", "40001", "40P01", "57P01", "57P02", "57P03"}


def is_url(where: Path | str) -> bool:
    return "://" in str(where)


def open_engine(where: Path | str, budget: float) -> Engine:
    """An engine on the SQLite file at `where`, or on the PostgreSQL database it names."""
    if not is_url(where):
        return _sqlite(Path(where), budget)
    url = make_url(str(where))
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"{shown(url)}: opsbot runs on postgresql:// or a SQLite file path")
    url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(
        url,
        **_pool(budget),
        connect_args={
            "connect_timeout": CONNECT_SECONDS,
            "application_name": "opsbot",
            # No server-side prepared statements: the driver's bookkeeping for them costs
            # more of this one process's CPU than the server saves in parsing statements
            # this small (measured: 140-155 against 185-205 acks/s).
            "prepare_threshold": None,
        },
    )

    @event.listens_for(engine, "connect")
    def _setup(conn: Any, record: ConnectionPoolEntry) -> None:
        # As on SQLite, no transaction begun behind our back: a write says BEGIN itself
        # (begin_write) and a read is one statement, which saves the BEGIN and ROLLBACK
        # round trips the driver would add around every read.
        conn.autocommit = True
        record.info["used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(conn: Any, record: ConnectionPoolEntry, _proxy: object) -> None:
        # A connection left idle may have been dropped by the server (a restart): asked
        # first, and replaced when it does not answer. One in steady use is not asked (a
        # round trip per use); if the server drops it anyway, the statement fails, and the
        # pool replaces every connection older than that failure.
        if time.monotonic() - record.info.get("used", 0.0) > IDLE_CHECK_SECONDS:
            try:
                conn.execute("SELECT 1")
            except Exception as exc:
                raise DisconnectionError(str(exc)) from exc

    @event.listens_for(engine, "checkin")
    def _used(_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["used"] = time.monotonic()

    return engine


def _pool(budget: float) -> dict[str, Any]:
    """The same pool on both engines: a connection not had within the budget is busy."""
    return {"pool_size": POOL_SIZE, "max_overflow": POOL_BURST, "pool_timeout": budget}


def _sqlite(path: Path, budget: float) -> Engine:
    engine = create_engine(
        URL.create("sqlite", database=str(path)),
        **_pool(budget),
        # a pooled connection is used by one thread at a time, though not always the same one
        connect_args={"timeout": budget, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _setup(conn: sqlite3.Connection, _record: object) -> None:
        # No transactions begun behind our back: a write says BEGIN IMMEDIATE itself
        # (begin_write), a read runs without one, as WAL lets it.
        conn.isolation_level = None
        conn.execute(f"PRAGMA busy_timeout = {int(budget * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")

    return engine


def begin_write(conn: Connection, deadline: float) -> None:
    """Start a write transaction that waits for the database's lock until `deadline` (a
    time.monotonic() value) at most. SQLite takes its one writer's lock at once (BEGIN
    IMMEDIATE), so two writers queue instead of failing half-way; PostgreSQL locks rows as
    it goes, each wait and statement bounded by what is left of the budget."""
    left_ms = max(1, int((deadline - time.monotonic()) * 1000))
    if conn.dialect.name == "sqlite":
        raw: Any = conn.connection.dbapi_connection  # a setting, not a statement to track
        raw.execute(f"PRAGMA busy_timeout = {left_ms}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # Begun and bounded in one round trip; both settings end with the transaction. Through
    # SQLAlchemy, so a connection the server dropped is known as such and replaced.
    conn.exec_driver_sql(
        f"BEGIN; SET LOCAL lock_timeout = {left_ms}; SET LOCAL statement_timeout = {left_ms}",
        execution_options={"no_parameters": True},  # several statements: no parameters
    )


def busy(exc: BaseException) -> bool:
    """Did the database say "not now": another writer held it past the budget, or (on
    PostgreSQL) the server is out of reach for the moment, restarting or down, or it dropped
    the connection (the pool then replaces every connection opened before)? Nothing was
    written, and the same request may be tried again."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    if exc.connection_invalidated:
        return True
    state = getattr(orig, "sqlstate", None)
    if isinstance(exc, OperationalError) and (state is None or state[:2] == "08"):
        return True  # no connection to be had (no SQLSTATE: the server never answered)
    return state in _PG_BUSY


class DatabaseUnreachable(Exception):
    """The PostgreSQL database cannot be used (down, wrong host or name, password refused);
    the message names database and host, never the password."""


@contextmanager
def reaching(url: URL) -> Iterator[None]:
    """Inside it, a PostgreSQL that cannot be used at all (down, unknown host, no such
    database, password refused) is DatabaseUnreachable: which database on which host, and
    the server's reason, never the password. Any other failure is left as it is."""
    try:
        yield
    except OperationalError as exc:
        said = unreachable(exc, url)
        if said is None:
            raise
        raise DatabaseUnreachable(f"OPSBOT_DATABASE_URL: {said}") from None


def unreachable(exc: BaseException, url: URL) -> str | None:
    """One line for a PostgreSQL that cannot be used at all (down, unknown host, no such
    database, password refused): which database on which host, and the server's reason
    (never the password); None for any other failure."""
    if url.get_backend_name() == "sqlite" or not isinstance(exc, OperationalError):
        return None
    # psycopg: 'connection failed: connection to server at "h", port p failed: FATAL:  why'
    # and a hint on the next lines: the reason is what follows the last "failed:".
    first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
    reason = first.rsplit("failed:", 1)[-1].strip().removeprefix("FATAL:").strip()
    reason = reason or type(exc.orig).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    place = f"{url.host or 'localhost'}:{url.port or 5432}"
    return f"cannot use PostgreSQL database {url.database!r} on {place}: {reason}"


def shown(url: URL) -> str:
    """The URL as it may be shown: host and database, never the password."""
    return url.render_as_string(hide_password=True)
