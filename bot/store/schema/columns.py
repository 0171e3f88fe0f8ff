"""What every table is made of: the one MetaData, and the few kinds of column the schema
uses (see tables.py)."""

from __future__ import annotations

from sqlalchemy import (
    REAL,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

metadata = MetaData()


def id_key() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def text_column(name: str, *, required: bool = False, default: str | None = None) -> Column[str]:
    server_default = text(f"'{default}'") if default is not None else None
    return Column(name, Text, nullable=not required, server_default=server_default)


def text_columns(*names: str) -> list[Column[str]]:
    """Optional text columns, in this order."""
    return [text_column(name) for name in names]


def int_column(name: str, *, required: bool = False, default: int | None = None) -> Column[int]:
    server_default = text(str(default)) if default is not None else None
    return Column(name, Integer, nullable=not required, server_default=server_default)


def real_column(name: str, *, required: bool = False) -> Column[float]:
    """A float of 8 bytes on both engines (PostgreSQL's REAL has 4: a time in epoch seconds
    would lose minutes)."""
    return Column(
        name, REAL().with_variant(DOUBLE_PRECISION(), "postgresql"), nullable=not required
    )


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows where `where` holds, the same on both engines."""
    condition = text(where)
    return Index(name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition)


def reference(name: str, target: str, *, required: bool = False) -> Column[int]:
    return Column(name, Integer, ForeignKey(target), nullable=not required)
