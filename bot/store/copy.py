"""`opsbot migrate --to postgresql://...`: copy this SQLite database, every table, into an
empty PostgreSQL database, in one transaction, and check the counts.

The leader's lease is not copied: the target keeps its own, fresh. The source is read in
one read transaction, so a running bot may keep writing: the copy is
the database as it was when it began. The target is created by the shared schema history
(history.py) and filled table by table in key order; a failure anywhere leaves it empty.
SQLAlchemy and Alembic are imported here, not at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Integer, Table, create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.store.schema import history
from bot.store.schema.tables import metadata

BATCH = 500  # rows per INSERT
# Who leads is the target's own: the processes that will serve it take its fresh lease.
NOT_COPIED = {"leader_lease"}
FORM = "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"


class CopyRefused(Exception):
    """The target cannot take the copy (wrong URL, unreachable, not empty); nothing changed."""


@dataclass(frozen=True)
class Copied:
    target: str  # the URL without its password
    revision: str
    counts: dict[str, int]  # table -> rows, as checked in the target


def target_url(text_url: str) -> URL:
    """A postgresql:// URL for psycopg 3; anything else is refused with words."""
    if text_url.count("@") > 1:  # the host would be read from inside the password
        raise CopyRefused(f"--to has more than one '@': write one in a password as %40 ({FORM})")
    try:
        url = make_url(text_url)  # a port that is not a number is a ValueError
    except (ArgumentError, ValueError):
        raise CopyRefused(f"--to must be a URL: {FORM}") from None
    if url.get_backend_name() != "postgresql":
        raise CopyRefused(f"--to must be a postgresql:// URL, not {url.drivername}://")
    if not url.database:
        raise CopyRefused(f"--to names no database: {FORM}")
    return url.set(drivername="postgresql+psycopg")


def where(url: URL) -> str:
    """Host, port and database: what an error may say (never the password)."""
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def copy_to(source_path: str, text_url: str, progress: Callable[[str], None]) -> Copied:
    url = target_url(text_url)
    source = create_engine(f"sqlite:///{source_path}")
    target = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        try:
            out = target.connect()
        except DBAPIError as exc:
            raise CopyRefused(f"cannot reach PostgreSQL at {where(url)}: {_reason(exc)}") from None
        with out, source.connect() as into:
            tables = inspect(out).get_table_names()
            out.rollback()  # the look ends its own transaction; the copy is one of its own
            if tables:
                raise CopyRefused(
                    f"PostgreSQL database {where(url)} is not empty ({len(tables)} tables); "
                    "opsbot copies only into an empty database. Nothing was changed."
                )
            into.exec_driver_sql("BEGIN")  # one snapshot of the source for the whole copy
            try:
                with out.begin():
                    history.upgrade(out)
                    # parents before the rows that refer to them
                    counts = {
                        t.name: _copy(into, out, t, progress)
                        for t in metadata.sorted_tables
                        if t.name not in NOT_COPIED
                    }
                    _check(out, counts)
            except DBAPIError as exc:
                raise CopyRefused(
                    f"the copy failed ({_reason(exc)}); {where(url)} was left empty"
                ) from None
            revision = history.current(out)
    finally:
        source.dispose()
        target.dispose()
    assert revision is not None
    return Copied(url.render_as_string(hide_password=True), revision, counts)


def _reason(exc: DBAPIError) -> str:
    """The driver's first line: what went wrong, without the URL."""
    return str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__


def _copy(into: Connection, out: Connection, table: Table, progress: Callable[[str], None]) -> int:
    name = table.name
    rows = into.execute(select(table)).mappings()
    copied = 0
    while batch := rows.fetchmany(BATCH):
        out.execute(table.insert(), [dict(row) for row in batch])
        copied += len(batch)
    key = table.c.get("id")
    if key is not None and isinstance(key.type, Integer) and key.primary_key:
        # the next id PostgreSQL hands out follows the copied ones
        out.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {name}"
            )
        )
    progress(f"{name}: {copied} rows")
    return copied


def _check(out: Connection, counts: dict[str, int]) -> None:
    for name, expected in counts.items():
        found = out.execute(select(func.count()).select_from(metadata.tables[name])).scalar()
        if found != expected:
            raise CopyRefused(
                f"{name}: {found} rows arrived of {expected}; the copy was rolled back"
            )
