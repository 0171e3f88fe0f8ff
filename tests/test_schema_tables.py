"""The schema described as SQLAlchemy tables is the schema the migrations build: the same
tables, columns, keys and indexes (partial ones with the same condition)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlite_utils import Database

from bot.store import Store, migrations
from bot.store.schema import tables
from bot.store.schema.tables import metadata

BOOKKEEPING = ("_sqlite_migrations", "alembic_version")  # the migration tools' own tables


def _shape(path: Path) -> dict[str, Any]:
    """Everything about a SQLite file's schema that the code relies on."""
    db = sqlite3.connect(path)
    tables = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name not in BOOKKEEPING
    ]
    shape: dict[str, Any] = {}
    for table in sorted(tables):
        columns = [
            # name, type, NOT NULL (a key column is never null, whatever it says), default
            (name, kind.upper(), bool(notnull) or pk > 0, default, pk)
            for _, name, kind, notnull, default, pk in db.execute(f"PRAGMA table_info({table})")
        ]
        keys = sorted(
            (row[2], row[3], row[4]) for row in db.execute(f"PRAGMA foreign_key_list({table})")
        )
        indexes = {}
        for _, name, unique, origin, partial in db.execute(f"PRAGMA index_list({table})"):
            cols = [row[2] for row in db.execute(f"PRAGMA index_info('{name}')")]
            where = None
            if partial:
                found = "SELECT sql FROM sqlite_master WHERE name = ?"
                (sql,) = db.execute(found, [name]).fetchone()
                where = re.sub(r"\s+", " ", sql.split(" WHERE ", 1)[1]).strip()
            # a UNIQUE constraint's automatic index is named after the table: compare columns
            label = name if origin == "c" else f"{origin}:{','.join(cols)}"
            indexes[label] = (cols, bool(unique), where)
        shape[table] = {"columns": columns, "foreign keys": keys, "indexes": indexes}
    db.close()
    return shape


def through_history(path: Path) -> Path:
    """A file brought to the newest schema the long way, as an existing file is: opsbot's
    SQLite migrations (to the baseline, stamped), then the revisions. (A new file is
    created at the newest schema at once.)"""
    conn = sqlite3.connect(path)
    migrations.apply(Database(conn, execute_plugins=False))
    conn.close()
    Store(path).migrate()
    return path


def test_the_tables_describe_the_migrated_schema(tmp_path: Path) -> None:
    migrated = through_history(tmp_path / "migrated.db")
    described = tmp_path / "described.db"
    engine = create_engine(f"sqlite:///{described}")
    metadata.create_all(engine)
    engine.dispose()
    want, got = _shape(migrated), _shape(described)
    assert sorted(got) == sorted(want)
    for table in want:
        assert got[table] == want[table], table


def test_a_new_file_is_what_the_migrations_and_revisions_make(tmp_path: Path) -> None:
    """A new file is created at the newest schema at once; it is the file the migrations and
    revisions make: the same schema, the same bookkeeping, the same rows they insert."""
    made = through_history(tmp_path / "history.db")
    new = tmp_path / "new.db"
    Store(new).migrate()
    assert _shape(new) == _shape(made)

    def contents(path: Path) -> dict[str, Any]:
        db = sqlite3.connect(path)
        found = {
            "ddl": sorted(
                sql
                for (name, sql) in db.execute("SELECT name, sql FROM sqlite_master")
                if name.startswith(BOOKKEEPING) or "sqlite_migrations" in name
            ),
            "migrations": [n for (n,) in db.execute("SELECT name FROM _sqlite_migrations")],
            "revision": db.execute("SELECT version_num FROM alembic_version").fetchall(),
            "journal": db.execute("PRAGMA journal_mode").fetchone(),
            "rows": {
                table: db.execute(f"SELECT * FROM {table}").fetchall()
                for table in sorted(metadata.tables)
            },
        }
        db.close()
        return found

    assert contents(new) == contents(made)


def test_the_tables_create_on_postgresql_with_their_rules(postgres_url: str) -> None:
    """On PostgreSQL the same tables and indexes are made, and the rules that claims rely on
    hold there: one running rollback and one running backup, many finished ones."""
    engine = create_engine(postgres_url)
    metadata.create_all(engine)
    found = inspect(engine)
    assert sorted(found.get_table_names()) == sorted(metadata.tables)
    for table in metadata.sorted_tables:
        assert {i["name"] for i in found.get_indexes(table.name)} >= {
            str(i.name) for i in table.indexes
        }, table.name
    with engine.begin() as conn:
        conn.execute(tables.records.rollbacks.insert(), [{"tag": "v1", "status": "ok"}] * 2)
        conn.execute(tables.records.rollbacks.insert().values(tag="v2", status="running"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(tables.records.rollbacks.insert().values(tag="v3", status="running"))
    backup = {"started_at": "t", "engine": "mongodb", "database": "pb", "path": "p"}
    with engine.begin() as conn:
        conn.execute(tables.records.backups.insert().values(status="running", **backup))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(tables.records.backups.insert().values(status="running", **backup))
    engine.dispose()
