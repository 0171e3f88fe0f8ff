"""Backups as records: one at a time, never "ok" until proven, failures leave no files."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError

from bot.config import Settings
from bot.deps import Deps
from bot.redact import clean_env
from bot.replies import UserError, mention
from bot.store import Backup
from commands.backup import engine, tools

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class Outcome:
    id: int
    status: str
    counts: dict[str, int]
    size: int
    seconds: float
    sha256: str
    error: str = ""
    note: str = ""  # e.g. the off-site copy failed while the backup itself is good


def mongo_client(deps: Deps, what: str = "back up") -> Any:
    if deps.mongo is None:
        raise UserError(f"MongoDB is not configured (MONGODB_URI is not set): nothing to {what}.")
    return deps.mongo()


def engine_for(deps: Deps) -> str:
    choice = deps.settings.backup.engine
    if choice == "auto":
        usable = tools.available() and deps.settings.mongodb_uri is not None
        return "mongodump" if usable else "builtin"
    return choice


def _dump(deps: Deps, kind: str, folder: Path, progress: Progress) -> engine.Dumped:
    name = deps.settings.backup.database
    if kind == "builtin":
        return engine.dump(mongo_client(deps)[name], folder, progress)
    counts = tools.mongodump(_uri(deps), name, folder, progress, _tool_timeout(deps))
    return engine.Dumped(counts, engine.size_of(folder), engine.checksum(folder))


def _uri(deps: Deps) -> str:
    if deps.settings.mongodb_uri is None:
        raise UserError("MONGODB_URI is not set: mongodump needs it.")
    return deps.settings.mongodb_uri.get_secret_value()


def _tool_timeout(deps: Deps) -> float:
    return deps.settings.backup.tool_timeout_minutes * 60.0


def run_backup(deps: Deps, *, reason: str, progress: Progress) -> Outcome:
    """Dump the database; the row says running until the files are complete and checked."""
    kind = engine_for(deps)
    if kind == "builtin":
        mongo_client(deps)
    settings, now = deps.settings, deps.clock()
    name = settings.backup.database
    backup_id = deps.store.backups.start_backup(kind, name, "", reason, now, deps.outbox.owner)
    if backup_id is None:
        running = deps.store.backups.find(status="running", limit=1)[0]
        raise UserError(f"Backup B{running.id} is already running; one at a time.")
    # The id in the name: two backups in one second (a restore's safety copy) never collide.
    folder = settings.backup_dir / f"B{backup_id}-{now:%Y%m%d-%H%M%S}-{name}"
    deps.store.backups.finish_backup(backup_id, path=str(folder))
    try:
        dumped = _dump(deps, kind, folder, progress)
    except BaseException as exc:  # whatever stopped it, a partial backup is no backup
        shutil.rmtree(folder, ignore_errors=True)
        error = type(exc).__name__
        if isinstance(exc, tools.ToolFailed):
            error = f"{exc}: {exc.tail[-1] if exc.tail else 'no output'}"
        deps.store.backups.finish_backup(
            backup_id, status="failed", error=error, finished_at=deps.clock()
        )
        if not isinstance(exc, PyMongoError | OSError | tools.ToolFailed):
            raise
        return Outcome(backup_id, "failed", {}, 0, _took(deps, now), "", error)
    deps.store.backups.finish_backup(
        backup_id,
        status="ok",
        finished_at=deps.clock(),
        size=dumped.size,
        sha256=dumped.sha256,
        counts=dumped.counts,
    )
    note = ""
    try:
        _offsite(deps, folder)
    except (OSError, subprocess.SubprocessError) as exc:  # the backup stays good
        note = f"the off-site copy failed ({type(exc).__name__})"
    return Outcome(
        backup_id, "ok", dumped.counts, dumped.size, _took(deps, now), dumped.sha256, note=note
    )


def _took(deps: Deps, since: datetime) -> float:
    return (deps.clock() - since).total_seconds()


def _offsite(deps: Deps, folder: Path) -> None:
    """Copy a good backup off this disk: to a directory, or through a configured program."""
    policy = deps.settings.backup
    if policy.offsite_dir is not None:
        shutil.copytree(folder, Path(policy.offsite_dir) / folder.name)
    if policy.offsite_command:
        argv = [str(folder) if arg == "{path}" else arg for arg in policy.offsite_command]
        subprocess.run(
            argv,
            check=True,
            timeout=_tool_timeout(deps),
            stdin=subprocess.DEVNULL,
            env=clean_env(),
            capture_output=True,
        )


def recover(deps: Deps, gone: Callable[[str | None], bool]) -> list[int]:
    """When a process starts leading: a backup still "running" whose process is `gone` was
    cut short by a crash. Mark it failed and remove its partial files."""
    cut = []
    for row in deps.store.backups.find(status="running", limit=100):
        if not gone(row.owner):
            continue  # another process runs it
        if row.path:
            shutil.rmtree(row.path, ignore_errors=True)
        deps.store.backups.finish_backup(
            row.id, status="failed", error="interrupted", finished_at=deps.clock()
        )
        cut.append(row.id)
    return cut


def good(deps: Deps, backup_id: int | None) -> Backup:
    """A backup that finished ok and whose files are still there: the latest, or the one named."""
    rows = deps.store.backups.find(status="ok", limit=500)
    row = (
        rows[0]
        if rows and backup_id is None
        else next((r for r in rows if r.id == backup_id), None)
    )
    if row is None:
        raise UserError(
            "No good backup yet."
            if backup_id is None
            else f"B{backup_id} is not a good backup (failed, running or unknown)."
        )
    if not Path(row.path).is_dir():
        raise UserError(f"The files of B{row.id} are gone from {row.path}.")
    return row


def verify(
    deps: Deps, backup_id: int | None, *, restore_test: bool, progress: Progress
) -> tuple[Backup, list[str]]:
    """Checksum, every file readable, counts as recorded; optionally a restore into a scratch
    database, counted and dropped. Returns the backup and the problems found (none = passed)."""
    row = good(deps, backup_id)
    folder, problems = Path(row.path), []
    if engine.checksum(folder) != row.sha256:
        problems.append("checksum differs from the one recorded")
    if row.engine == "builtin":
        counts = engine.read_counts(folder)
        if counts != row.counts:
            problems.append(f"document counts differ: recorded {row.counts}, read {counts}")
    elif not tools.readable(folder):  # counts of an archive are checked by the restore test
        problems.append("the archive does not decompress")
    if restore_test and not problems:
        scratch = f"{row.database}_restore_test"
        try:
            restored = _restore(deps, row, scratch, progress)
            if restored != row.counts:
                problems.append(f"restore test counted {restored}, expected {row.counts}")
        except tools.ToolFailed as exc:
            problems.append(f"restore test failed: {exc} ({' | '.join(exc.tail[-3:])})")
        finally:
            mongo_client(deps).drop_database(scratch)
    result = (
        "passed" + (" with restore test" if restore_test else "")
        if not problems
        else "; ".join(problems)
    )
    deps.store.backups.finish_backup(row.id, verified_at=deps.clock(), verify_result=result)
    return row, problems


def _restore(deps: Deps, row: Backup, target: str, progress: Progress) -> dict[str, int]:
    folder = Path(row.path)
    if row.engine == "builtin":
        return engine.restore(folder, mongo_client(deps)[target], progress)
    return tools.mongorestore(
        _uri(deps), folder, row.database, target, progress, _tool_timeout(deps)
    )


def require_restorer(deps: Deps, actor: str) -> None:
    allowed = deps.settings.backup.restore_allowed
    if actor not in allowed:
        if not allowed:
            raise UserError(
                "Nobody may restore a backup or delete data yet: list the Slack user ids "
                "allowed to in `backup.restore_allowed`. Nothing was changed."
            )
        who = ", ".join(mention(a) for a in allowed)
        raise UserError(f"Only {who} may restore a backup or delete data. Nothing was changed.")


def restore_live(deps: Deps, backup_id: int, *, actor: str, progress: Progress) -> Outcome:
    """Take a pre-restore backup, then replace the live collections with the backup's."""
    require_restorer(deps, actor)
    row = good(deps, backup_id)
    safety = run_backup(deps, reason=f"before restoring B{backup_id}", progress=progress)
    if safety.status != "ok":
        raise UserError(f"The pre-restore backup failed ({safety.error}); nothing was restored.")
    started = deps.clock()
    restored = _restore(deps, row, row.database, progress)
    took = _took(deps, started)
    return Outcome(backup_id, "restored", restored, row.size or 0, took, row.sha256 or "")


def retention(deps: Deps, now: datetime) -> list[int]:
    """Keep the newest good backup of each of the last N days, weeks and months; delete the
    rest (files and all). Failed rows stay as a record; their files are already gone."""
    rows = deps.store.backups.find(status="ok", limit=10_000)
    kept = keeping(deps.settings, [row.started_at for row in rows])
    dropped = [row for n, row in enumerate(rows) if n not in kept]
    for row in dropped:
        shutil.rmtree(row.path, ignore_errors=True)
        deps.store.backups.finish_backup(row.id, status="expired")
    return [row.id for row in dropped]


def keeping(settings: Settings, times: list[datetime]) -> set[int]:
    """Which of `times` (newest first) to keep: the newest of each of the last N days, weeks
    and months (backup.keep_daily, keep_weekly, keep_monthly)."""
    policy = settings.backup
    keep: set[int] = set()
    for count, key in (
        (policy.keep_daily, lambda d: d.date()),
        (policy.keep_weekly, lambda d: d.isocalendar()[:2]),
        (policy.keep_monthly, lambda d: (d.year, d.month)),
    ):
        seen: list[object] = []
        for n, moment in enumerate(times):
            bucket = key(moment)
            if bucket not in seen:
                seen.append(bucket)
                if len(seen) <= count:
                    keep.add(n)
    return keep


OWN_PREFIX = "opsbot-db-"


def backup_own(deps: Deps, now: datetime) -> tuple[Path, str]:
    """opsbot's own SQLite file, copied online into BACKUP_DIR (a folder per copy, so the
    off-site copy and retention work as for MongoDB backups). Returns the folder and a note
    when the off-site copy failed."""
    folder = deps.settings.backup_dir / f"{OWN_PREFIX}{now:%Y%m%d-%H%M%S}"
    deps.store.backup_to(folder / "opsbot.db")
    try:
        _offsite(deps, folder)
    except (OSError, subprocess.SubprocessError) as exc:
        return folder, f"the off-site copy failed ({type(exc).__name__})"
    return folder, ""


def own_retention(deps: Deps) -> list[Path]:
    """The same keep-daily/weekly/monthly rule for opsbot's own copies; returns those removed."""
    folders = sorted(deps.settings.backup_dir.glob(f"{OWN_PREFIX}*"), reverse=True)
    times = []
    for folder in folders:
        stamp = folder.name.removeprefix(OWN_PREFIX)
        times.append(datetime.strptime(stamp, "%Y%m%d-%H%M%S").replace(tzinfo=UTC))
    kept = keeping(deps.settings, times)
    dropped = [f for n, f in enumerate(folders) if n not in kept]
    for folder in dropped:
        shutil.rmtree(folder, ignore_errors=True)
    return dropped


def growth(rows: list[Backup]) -> float | None:
    """Percent change in size from the previous good backup to the latest."""
    good_rows = [r for r in rows if r.status == "ok"]
    if len(good_rows) < 2 or not good_rows[1].size:
        return None
    latest, before = float(good_rows[0].size or 0), float(good_rows[1].size)
    return (latest - before) / before * 100
