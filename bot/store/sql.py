"""How values and statements are written on both engines: times as ISO text in UTC, text
redacted, upserts in each dialect's own construct, hot statements built once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite

from bot.redact import as_json, redact


def now_utc() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def upsert(db: Connection | str, table: Table) -> Any:
    """INSERT for `table` with the engine's ON CONFLICT clauses (on_conflict_do_nothing,
    on_conflict_do_update): both engines have them, each in its own dialect's construct.
    `db` is a connection, or the name of its engine's dialect."""
    dialect = db if isinstance(db, str) else db.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


S = TypeVar("S", bound=Executable)


def prebuilt(make: Callable[[str], S]) -> Callable[[Connection], S]:
    """A statement a hot path runs (a command's, a delivery's), built the first time each
    engine asks for it (`make` gets the dialect's name) and kept: building one with
    SQLAlchemy costs more than running it. The values come as parameters when it runs."""
    built: dict[str, S] = {}

    def statement(db: Connection) -> S:
        dialect = db.dialect.name
        found = built.get(dialect)
        if found is None:
            found = built[dialect] = make(dialect)
        return found

    return statement


def _rows(result: CursorResult[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in result.mappings()]


def cells(row: dict[str, Any]) -> dict[str, Any]:
    """A row's values as they are written: a time as ISO text in UTC, a yes/no as 0 or 1
    (the integer column holds it on either engine), anything else as `_cell` writes it."""
    return {name: _written(value) for name, value in row.items()}


def _written(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bool):
        return int(value)
    return _cell(value)


def _cell(value: Any) -> Any:
    """A value as it is written to the file, with no secret in clear (bot/redact.py): text
    redacted; a dict or list (a JSON column) masked value by value, then serialised. Never
    the other way round: masking JSON text can break it, and then every read of the row."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict | list):
        return as_json(value)
    return value
