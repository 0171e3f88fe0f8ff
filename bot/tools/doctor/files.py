"""The bot's own setup, with no network: the config, the database (migrated, writable; a
SQLite file not held by a running opsbot serve, a PostgreSQL database's leader), the backup
folder, and which features are on."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import OperationalError

from bot.store import Lease, engines, leases, migrations, serve_lock
from bot.tools.doctor.result import FAIL, OFF, OK, Context, Result


def config(ctx: Context) -> Result:
    shown = str(ctx.settings.opsbot_config) if ctx.settings.opsbot_config else "no file"
    zone = datetime.now(ctx.settings.tz).strftime("%Z, UTC%z")
    return Result("config", OK, f"{shown}; time zone {ctx.settings.timezone} ({zone})")


def database(ctx: Context) -> Result:
    if ctx.settings.on_postgresql:
        return _postgresql(ctx)
    path = Path(ctx.settings.opsbot_db)
    if not path.exists():
        folder = path.parent
        if not _writable(folder):
            return Result("database", FAIL, f"{folder} is not writable", "OPSBOT_DB elsewhere")
        return Result("database", OK, f"{path} will be created at the first start")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            names = {
                row[0]
                for row in db.execute(
                    "SELECT name FROM _sqlite_migrations WHERE migration_set = 'opsbot'"
                )
            }
    except sqlite3.Error as exc:
        return Result("database", FAIL, f"{path}: {exc}", "check the file, or restore a backup")
    known = [m.name for m in migrations._migrations]
    unknown, pending = names - set(known), [n for n in known if n not in names]
    if unknown:
        return Result(
            "database", FAIL, f"{path} was written by a newer opsbot", "run that newer opsbot"
        )
    if not _writable(path) or not _writable(path.parent):
        return Result("database", FAIL, f"{path} is not writable", "fix its owner or mode")
    held = None if ctx.serving else _held_by(path)
    if held:
        return Result(
            "database",
            FAIL,
            f"{path} is held by a running opsbot serve ({held})",
            "stop it, or give this one its own OPSBOT_DB",
        )
    state = f"{len(pending)} migrations to apply at start" if pending else "migrated"
    return Result("database", OK, f"{path}: {mode} mode, {state}, writable, not in use")


def _postgresql(ctx: Context) -> Result:
    """The PostgreSQL database: reachable, its schema's revision, and which `opsbot serve`
    leads the processes serving it (one lease, one holder: bot/leader.py)."""
    from bot.store.schema import history

    engine = engines.open_engine(ctx.settings.database, 2)
    where = engines.shown(engine.url)
    try:
        with engine.connect() as conn:
            pending = history.pending(conn)
            lease = None if pending else leases.read(conn)
    except OperationalError as exc:
        said = engines.unreachable(exc, engine.url) or type(exc.orig).__name__
        return Result("database", FAIL, said, "check OPSBOT_DATABASE_URL and the server")
    except history.UnknownRevision as exc:
        return Result(
            "database",
            FAIL,
            f"{where} is at revision {exc.found}, written by a newer opsbot "
            f"(this one knows {history.newest()})",
            "run that newer opsbot",
        )
    finally:
        engine.dispose()
    at = f"at revision {history.newest()}"
    state = f"{len(pending)} revisions to apply at start" if pending else at
    return Result("database", OK, f"{where}: PostgreSQL, {state}; {_led(lease)}")


def _led(lease: Lease | None) -> str:
    if lease is None or not lease.held:
        return "no opsbot serve leads it (none runs, or its leader died within a lease)"
    since = f" for {lease.held_for:.0f} s" if lease.held_for is not None else ""
    return f"led by {lease.holder}{since} (lease token {lease.token}, {lease.left:.0f} s left)"


def _held_by(path: Path) -> str | None:
    lock = serve_lock(path)
    if not lock.exists():
        return None
    with lock.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def backup_dir(ctx: Context) -> Result:
    folder = Path(ctx.settings.backup_dir)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not _writable(existing):
        return Result("backup dir", FAIL, f"{folder} is not writable", "set BACKUP_DIR elsewhere")
    free = shutil.disk_usage(existing).free
    return Result("backup dir", OK, f"{folder}: writable, {free / 2**30:.1f} GiB free")


def features(ctx: Context) -> list[Result]:
    """Each feature that needs a setting: on, or off and what turns it on."""
    s = ctx.settings
    found = []
    for name, missing, how in (
        ("health checks", not s.promptbase_api_url, "set PROMPTBASE_API_URL"),
        ("backups", s.mongodb_uri is None, "set MONGODB_URI"),
        ("rollback", s.rollback_repo is None, "set ROLLBACK_REPO and rollback.allowed"),
        ("restores", not s.backup.restore_allowed, "list user ids in backup.restore_allowed"),
        ("on-call paging", not s.oncall.rotation, "set oncall.rotation or use /oncall set"),
        ("PagerDuty", s.oncall.pagerduty_routing_key is None, "oncall.pagerduty_routing_key"),
        ("Statuspage", s.status_page.statuspage_api_key is None, "status_page.statuspage_*"),
        ("user notices", not s.status_page.notice_webhook, "status_page.notice_webhook"),
    ):
        found.append(Result(name, OFF if missing else OK, f"off ({how})" if missing else "on"))
    return found
