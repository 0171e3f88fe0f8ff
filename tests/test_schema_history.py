"""One schema history on both engines: a SQLite file is stamped at the baseline its own
migrations built, a PostgreSQL database is created by the revisions, both end at the same
schema as the tables describe, and a database at a revision this opsbot does not know is
refused untouched, naming both revisions."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, text

from bot.store import NewerDatabase, Store
from bot.store.schema import history
from bot.store.schema.registry import BASELINE_REVISION, NEWEST_REVISION
from bot.store.schema.tables import metadata


def _differences(connection: Connection) -> list[Any]:
    """What Alembic finds between the database and the tables, less two things of SQLite's
    own: the old migrations' bookkeeping table, and key columns it reports as nullable
    (test_schema_tables.py holds SQLite's keys to the tables)."""
    context = MigrationContext.configure(
        connection,
        opts={"include_name": lambda name, kind, _: not str(name).startswith("_sqlite")},
    )
    found = []
    for difference in compare_metadata(context, metadata):
        changes = difference if isinstance(difference, list) else [difference]
        kept = [
            change
            for change in changes
            if not (
                connection.dialect.name == "sqlite"
                and change[0] == "modify_nullable"
                and metadata.tables[change[2]].c[change[3]].primary_key
            )
        ]
        found += kept
    return found


def test_a_sqlite_file_is_at_the_newest_revision_with_the_described_schema(
    tmp_path: Path,
) -> None:
    path = tmp_path / "opsbot.db"
    Store(path).migrate()
    Store(path).migrate()  # again: nothing to do, nothing copied
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert history.current(conn) == history.newest()
        assert history.pending(conn) == []
        assert _differences(conn) == []
    engine.dispose()
    assert list(tmp_path.glob("opsbot.db.before-*")) == []


def test_postgresql_is_created_by_the_revisions_with_the_same_schema(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        assert history.pending(conn) == history.after(None)
        assert history.pending(conn)[0] == BASELINE_REVISION
        history.upgrade(conn)
    with engine.begin() as conn:
        history.upgrade(conn)  # again: nothing to do
        assert history.current(conn) == history.newest()
        assert _differences(conn) == []
        # floats keep 8 bytes (PostgreSQL's REAL has 4: an epoch time would lose minutes)
        conn.execute(text("INSERT INTO slack_pace VALUES ('C1', 2.5, 1764237600.25)"))
        assert conn.scalar(text("SELECT since FROM slack_pace")) == 1764237600.25
    engine.dispose()


def test_a_file_at_a_revision_this_opsbot_does_not_know_is_refused_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "opsbot.db"
    Store(path).migrate()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    before = path.read_bytes()
    with pytest.raises(NewerDatabase) as refused:
        Store(path).migrate()
    assert "revision 9999" in str(refused.value)
    assert f"it goes up to revision {history.newest()}" in str(refused.value)
    assert path.read_bytes() == before


def test_an_installed_opsbot_ships_every_revision() -> None:
    """`pip install .` (the Docker image) copies only what package-data names: every file of
    the history must match one of its patterns, or an installed opsbot cannot migrate."""
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["bot.store.schema"]
    package = root / "bot/store/schema"
    files = [
        p.relative_to(package)
        for p in history.REVISIONS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert files
    assert [f for f in files if not any(f.match(pattern) for pattern in patterns)] == []


def test_the_known_revisions_are_the_ones_on_disk() -> None:
    assert history.newest() == NEWEST_REVISION
    assert history.after(None)[0] == BASELINE_REVISION


def test_starting_on_an_up_to_date_file_loads_no_alembic(tmp_path: Path) -> None:
    """Start-up of every opsbot process stays light: Alembic is imported only when a revision
    is to be run."""
    code = (
        "import sys; from bot.store import Store; "
        f"Store({str(tmp_path / 'opsbot.db')!r}).migrate(); "
        "print(sorted(m for m in ('alembic',) if m in sys.modules))"
    )
    Store(tmp_path / "opsbot.db").migrate()  # created, and brought to the newest revision
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "[]"
