"""Upgrading the file at start-up: opsbot's own SQLite migrations up to the baseline, then
the schema history both engines share (schema/history.py), with a copy of the file first
and a refusal, untouched, of a file a newer opsbot wrote."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from sqlite_utils import Database

from bot.store import engines
from bot.store.base import (
    BUSY_TIMEOUT_MS,
    MIN_FREE_BYTES,
    UPGRADE_COPIES,
    CannotUpgrade,
    NewerDatabase,
    StoreBase,
    unwritable,
)
from bot.store.schema import migrations
from bot.store.schema.registry import BASELINE_REVISION, NEWEST_REVISION

# What the migrations and revisions leave in a new file besides the tables: the migrations'
# bookkeeping (as sqlite-utils creates it), Alembic's (as Alembic does), and the rows the
# revisions insert (0002: the leader's lease, nobody's yet).
_CREATED = (
    'CREATE TABLE "_sqlite_migrations" (\n   "id" INTEGER PRIMARY KEY,\n   "migration_set" TEXT,'
    '\n   "name" TEXT,\n   "applied_at" TEXT\n)',
    'CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"\n    ON "_sqlite_migrations"'
    ' ("migration_set", "name")',
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
    "INSERT INTO leader_lease (id) VALUES (1)",
)


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB"


class UpgradeStore(StoreBase):
    def migrate(self) -> Path | None:
        """Create or upgrade the schema; called once at start-up. Before an upgrade a SQLite
        file is copied beside itself (returned, and the last UPGRADE_COPIES kept); a database
        written by a newer opsbot is refused untouched."""
        if not self.sqlite:
            self._migrate_server()
            return None
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        copy = None
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            db = Database(conn, execute_plugins=False)
            if not db.table_names():
                db.enable_wal()
                conn.close()
                self._create()
                return None
            applied = [m.name for m in migrations.applied(db)]
            unknown = sorted(set(applied) - {m.name for m in migrations._migrations})
            if unknown:
                self._newer(", ".join(unknown))
            at = self._revision(db) or BASELINE_REVISION  # where the migrations here end
            later = [] if at == NEWEST_REVISION else self._revisions_after(at)
            pending = [m.name for m in migrations.pending(db)] + later
            if applied and pending:
                copy = self._copy_before(pending[0])
            db.enable_wal()
            migrations.apply(db)  # ends at the shared history's baseline, stamped
        finally:
            conn.close()
        if later:
            self._upgrade()
        return copy

    def _create(self) -> None:
        """A new file: the newest schema at once, from the tables (schema/tables.py), stamped
        at the newest revision with every migration recorded as applied: Alembic's own way
        to a new database (create the tables, stamp the head), without loading Alembic at
        start-up. tests/test_schema_history.py holds such a file equal to one brought up
        through the migrations and revisions."""
        from bot.store.schema.tables import metadata

        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
                conn.rollback()  # another process created it meanwhile
                return
            metadata.create_all(conn)
            for statement in _CREATED:
                conn.exec_driver_sql(statement)
            now = str(datetime.now(UTC))
            conn.exec_driver_sql(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
                [(migrations.name, m.name, now) for m in migrations._migrations],
            )
            conn.exec_driver_sql("INSERT INTO alembic_version VALUES (?)", (NEWEST_REVISION,))
            conn.commit()

    def _migrate_server(self) -> None:
        """A PostgreSQL database: the shared history from nothing, or from where it stands."""
        from bot.store.schema import history

        with engines.reaching(self.url), self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")  # the driver begins nothing by itself (engines.py)
            # One upgrade at a time: a second opsbot starting beside this one waits here.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('opsbot.migrate'))")
            try:
                history.upgrade(conn)
            except history.UnknownRevision as exc:
                self._newer(f"revision {exc.found}")
            conn.commit()

    @staticmethod
    def _revision(db: Database) -> str | None:
        """The shared history's revision this file is at; None before it was stamped."""
        if not db["alembic_version"].exists():
            return None
        found = db.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(found[0]) if found else None

    def _revisions_after(self, at: str) -> list[str]:
        from bot.store.schema import history  # Alembic, only when there is work for it

        try:
            return history.after(at)
        except history.UnknownRevision as exc:
            self._newer(f"revision {exc.found}")

    def _upgrade(self) -> None:
        from bot.store.schema import history

        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            history.upgrade(conn)
            conn.commit()

    def _newer(self, what: str) -> NoReturn:
        restore = (
            f", or restore a copy made before the upgrade ({Path(self.path).name}.before-*)"
            if self.sqlite
            else ""
        )
        raise NewerDatabase(
            f"{self.path} was written by a newer opsbot (its schema has {what}, which this "
            f"version does not know: it goes up to revision {NEWEST_REVISION}); it was not "
            f"touched. Run that newer opsbot{restore}."
        )

    def _copy_before(self, migration: str) -> Path:
        here = Path(self.path)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        copy = here.with_name(f"{here.name}.before-{migration}-{stamp}")
        size = sum(p.stat().st_size for p in (here, Path(f"{here}-wal")) if p.exists())
        free = shutil.disk_usage(here.parent).free
        unchanged = "nothing was changed; free some space (or copy it elsewhere) and start again"
        if free < size + MIN_FREE_BYTES:
            raise CannotUpgrade(
                f"{here}: not enough room to copy it before upgrading ({_mb(free)} free, "
                f"{_mb(size + MIN_FREE_BYTES)} needed); {unchanged}"
            )
        try:
            self.backup_to(copy)
        except (OSError, sqlite3.Error) as exc:
            why = unwritable(exc) or getattr(exc, "strerror", None) or type(exc).__name__
            raise CannotUpgrade(
                f"{here}: could not copy it before upgrading ({why}); {unchanged}"
            ) from None
        for old in sorted(here.parent.glob(f"{here.name}.before-*"))[:-UPGRADE_COPIES]:
            old.unlink()
        return copy

    def backup_to(self, target: Path) -> Path:
        """A consistent copy of the live file through SQLite's online backup API (a plain
        file copy of a WAL database can miss what is still in the WAL)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        part.unlink(missing_ok=True)
        source = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            with contextlib.closing(sqlite3.connect(part)) as copy:
                source.backup(copy)
        except BaseException:
            part.unlink(missing_ok=True)  # a half copy is no copy: never left behind
            raise
        finally:
            source.close()
        part.replace(target)
        return target
