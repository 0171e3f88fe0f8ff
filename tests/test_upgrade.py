"""Upgrades keep data: a database made by an older opsbot, with a row in every table, is
migrated by today's opsbot; every row survives and reads back through today's store. A file
written by a newer opsbot is refused untouched."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from bot.store import NewerDatabase, Store, migrations
from bot.store.base import UPGRADE_COPIES
from tests.conftest import T0

# Column values an older opsbot could have written, by column name.
JSON_COLUMNS = {
    "approvals": "[]",
    "steps": "[]",
    "members": '["U0ALICE01", "U0BOB0001"]',
    "counts": '{"prompts": 3}',
    "verify_result": "[]",
    "detail": "{}",
    "findings": "[]",
    "sections": "[]",
    "payload": "{}",
}
STATUS = {
    "incidents": "open",
    "backups": "ok",
    "rollbacks": "done",
    "oncall_swaps": "pending",
    "job_runs": "ok",
    "health_episodes": "warning",
}


def value(table: str, column: str, kind: str) -> Any:
    if column in JSON_COLUMNS:
        return JSON_COLUMNS[column]
    if column == "status":
        return STATUS.get(table, "ok")
    if column == "id" or column.endswith("_id"):
        return 1
    if column in ("at", "anchor", "scheduled_for", "due") or column.endswith("_at"):
        return T0.isoformat()
    if column in ("starts_at", "give_start", "take_start", "old_at", "new_at"):
        return T0.isoformat()
    if column == "severity":
        return "P1"
    if kind.upper().startswith("INT"):
        return 1
    if kind.upper() in ("FLOAT", "REAL"):
        return 1.5
    return f"{table}.{column}"


def old_database(path: Path, stop_before: str) -> dict[str, list[tuple[Any, ...]]]:
    """The schema as it was before `stop_before`, with a row in every table."""
    db = Database(path)
    migrations.apply(db, stop_before=stop_before)
    tables = [t for t in db.table_names() if not t.startswith("_")]
    for table in tables:
        columns = db[table].columns
        db[table].insert({c.name: value(table, c.name, c.type) for c in columns})
    kept = {t: list(db.execute(f"SELECT * FROM [{t}]").fetchall()) for t in tables}
    db.conn.close()
    return kept


@pytest.mark.parametrize("stop_before", ["m002_timers_roles_actions", "m012_outbox_inbox"])
def test_every_row_of_an_older_database_survives_the_upgrade(
    tmp_path: Path, stop_before: str
) -> None:
    """From the first schema (m001 only) and from the schema before the outbox (m001-m011)."""
    path = tmp_path / "opsbot.db"
    before = old_database(path, stop_before)
    assert all(before.values()), "a table without a row proves nothing"
    store = Store(path)
    copy = store.migrate()
    assert copy is not None and copy.name.startswith(f"opsbot.db.before-{stop_before}-")
    with sqlite3.connect(copy) as saved:  # the copy is the old file, whole
        assert saved.execute("SELECT COUNT(*) FROM incidents").fetchone() == (1,)
    db = sqlite3.connect(path)
    for table, rows in before.items():
        now = db.execute(f"SELECT * FROM [{table}]").fetchall()
        assert [r[: len(rows[0])] for r in now] == rows, table
    # ... and it reads back through today's store
    incident = store.incidents.incident(1)
    assert incident is not None and incident.title == "incidents.title"
    [entry] = store.incidents.timeline(1)
    assert entry.text == "timeline.text" and entry.seq == 1
    assert store.followups.postmortem(1) is not None
    if stop_before == "m012_outbox_inbox":
        assert store.followups.actions(1)[0].text == "action_items.text"
        assert store.oncall.rotation() is not None
        assert store.backups.backup(1) is not None and store.rollbacks.rollback(1) is not None
        assert store.jobs.last_run("job_runs.job") is not None
        assert store.oncall.audit()[0].action == "oncall_audit.action"


def test_a_database_from_a_newer_opsbot_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "opsbot.db"
    Store(path).migrate()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('opsbot', 'm999_from_the_future', '2027-01-01')"
        )
    before = path.read_bytes()
    with pytest.raises(NewerDatabase, match="written by a newer opsbot"):
        Store(path).migrate()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("opsbot.db.before-*"))


def test_only_the_last_copies_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "opsbot.db"
    for n in range(UPGRADE_COPIES + 2):
        (tmp_path / f"opsbot.db.before-m000-2026010{n}T000000").write_bytes(b"old")
    old_database(path, "m013_timeline_numbers")
    Store(path).migrate()
    copies = sorted(tmp_path.glob("opsbot.db.before-*"))
    assert len(copies) == UPGRADE_COPIES
    assert copies[-1].name.startswith("opsbot.db.before-m013_timeline_numbers-")


def test_an_upgrade_that_cannot_copy_the_file_first_says_so_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """The copy taken before an upgrade cannot be written (the file system takes no more:
    here a file size limit, as a full disk would): opsbot says so in one line, exit 2, and
    leaves the database as it was, with no half-written copy beside it."""
    path = tmp_path / "opsbot.db"
    old_database(path, "m012_outbox_inbox")
    before = path.read_bytes()
    limit = len(before) // 2

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "outbox"],
        env={**env, "OPSBOT_DB": str(path)},
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=small_files,
    )
    assert done.returncode == 2, done.stderr
    assert "could not copy it before upgrading" in done.stderr
    assert "nothing was changed" in done.stderr and "Traceback" not in done.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["opsbot.db"]


def test_every_migration_in_the_schema_is_registered_in_order() -> None:
    """A migration function without its decorator, or in a module the schema does not
    import, would never run: every `m0NN_` function of every module of bot/store/schema/ is
    a registered migration, in the order of its number."""
    from bot.store import schema

    registered = [m.name for m in migrations._migrations]  # before this test imports any
    defined = []
    for found in pkgutil.iter_modules(schema.__path__, f"{schema.__name__}."):
        module = importlib.import_module(found.name)
        defined += [
            name
            for name, value in vars(module).items()
            if re.fullmatch(r"m\d{3}_\w+", name) and value.__module__ == module.__name__
        ]
    assert registered == sorted(defined)
