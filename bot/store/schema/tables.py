"""The schema once, as SQLAlchemy Core tables: what the migrations in this package build on
SQLite, described so that it can be created on PostgreSQL as well.

tests/test_schema_tables.py holds it to the migrated SQLite schema, column by column and
index by index, so the two never drift apart. Times are ISO 8601 text in UTC with
microseconds, on both engines: they sort as text, and a copy from one engine to the other
moves them unchanged. JSON columns are text too.
"""

from __future__ import annotations

from bot.store.schema import records, work
from bot.store.schema.columns import metadata

__all__ = ["metadata", "records", "work"]
