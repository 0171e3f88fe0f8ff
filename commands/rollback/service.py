"""Rollback rules: who may, how many must confirm, one at a time, every step observable."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bot import posting
from bot.config import RollbackStep, Settings
from bot.deps import Deps
from bot.owners import on_this_host
from bot.programs import git_env
from bot.redact import clean_env, redact
from bot.replies import UserError, describe, mention
from bot.store import Entry, Incident, Rollback
from commands.backup import service as backups
from commands.rollback import releases

DEPLOYED_KEY = "rollback.deployed"
PREDEPLOY_KEY = "rollback.predeploy_backup"
TAIL_LINES = 30


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    tag: str
    current: str | None
    commit: releases.Commit
    undone: list[releases.Commit]
    steps: list[str]
    incident: Incident | None
    approvals_needed: int
    forward: bool = False  # the target is newer than what is deployed: `undone` is what it adds


def repo(settings: Settings) -> Path:
    if settings.rollback_repo is None:
        raise UserError("ROLLBACK_REPO is not set: there is no release checkout to roll back.")
    return Path(settings.rollback_repo)


def approvals_needed(settings: Settings, incident: Incident | None) -> int:
    """Two different allowed people for an incident of a listed severity, else one."""
    return 2 if incident and incident.severity in settings.rollback.second_confirmation else 1


def require_allowed(settings: Settings, actor: str, what: str = "roll back") -> None:
    allowed = settings.rollback.allowed
    if actor in allowed:
        return
    if not allowed:
        raise UserError(
            f"Nobody may {what} yet: list the Slack user ids allowed to in "
            "`rollback.allowed`. Nothing was run."
        )
    who = ", ".join(mention(a) for a in allowed)
    raise UserError(f"Only {who} may {what}. Nothing was run.")


def current(deps: Deps) -> str | None:
    if deps.settings.rollback.current == "recorded":
        return deps.store.state(DEPLOYED_KEY)
    return releases.checked_out(repo(deps.settings))


def steps(settings: Settings) -> list[RollbackStep]:
    planned = list(settings.rollback.steps)
    if settings.rollback.restore_database:
        planned.append(
            RollbackStep(name="Database: restore the pre-deployment backup", argv=["<built-in>"])
        )
    return planned


def preview(deps: Deps, tag: str, incident: Incident | None, forward: bool = False) -> Preview:
    checkout = repo(deps.settings)
    tag = releases.validate(checkout, tag)
    now = current(deps)
    if tag == now:
        raise UserError(f"`{tag}` is the release deployed now: there is nothing to roll back.")
    newer = releases.newer(tag, now)
    if newer and not forward:
        added = releases.between(checkout, now or "", tag)
        listed = "\n".join(f"  • `{c.sha}` {c.subject}" for c in added) or "  • nothing"
        raise UserError(
            f"`{tag}` is newer than the deployed `{now}`: that is a roll-forward, which would "
            f"add:\n{listed}\nTo do it anyway: `/rollback {tag} --forward`."
        )
    if newer:
        undone = releases.between(checkout, now or "", tag)
    else:
        undone = releases.between(checkout, tag, now) if now and now != tag else []
    return Preview(
        tag,
        now,
        releases.commit(checkout, tag),
        undone,
        [s.name for s in steps(deps.settings)],
        incident,
        approvals_needed(deps.settings, incident),
        newer,
    )


def request(deps: Deps, shown: Preview, actor: str) -> int:
    return deps.store.rollbacks.add_rollback(
        {
            "tag": shown.tag,
            "from_tag": shown.current,
            "requested_by": actor,
            "incident_id": shown.incident.number if shown.incident else None,
            "approvals": "[]",
            "status": "pending",
            "created_at": deps.clock().isoformat(),
            "steps": "[]",
        }
    )


def approve(deps: Deps, rollback_id: int, actor: str, needed: int) -> tuple[Rollback, bool]:
    """Add `actor`'s confirmation; True when it was the last one needed. Read and write are
    one transaction: two people confirming at once both count."""
    require_allowed(deps.settings, actor)
    with deps.store.atomic():
        row = deps.store.rollbacks.rollback(rollback_id)
        if row is None or row.status != "pending":
            state = row.status if row else "unknown"
            raise UserError(f"This rollback is {state}; it cannot be confirmed now.")
        if actor in row.approvals:
            raise UserError("You confirmed already: a second allowed person must confirm.")
        approvals = [*row.approvals, actor]
        deps.store.rollbacks.update_rollback(rollback_id, approvals=approvals)
    return replace(row, approvals=approvals), len(approvals) >= needed


def cancel(deps: Deps, rollback_id: int, actor: str) -> None:
    """Only while it has not started: checked and changed in one transaction, so a cancel
    never overwrites a rollback that started a moment before."""
    with deps.store.atomic():
        row = deps.store.rollbacks.rollback(rollback_id)
        if row is None or row.status != "pending":
            raise UserError("Only a rollback that has not started can be cancelled.")
        deps.store.rollbacks.update_rollback(
            rollback_id, status="cancelled", finished_at=deps.clock()
        )


# The process group of the step running now, and the process that started it.
STEP_GROUP_KEY = "rollback.step_group"


def kill_group(group: int) -> None:
    """The step and everything it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def stop_steps(deps: Deps, gone: Callable[[str | None], bool] | None = None) -> None:
    """A step still running must not outlive the process that started it: at a stop, this
    process's own; when a process starts leading, one a process on this host that is `gone`
    started. A step another host's process started is never this host's to kill."""
    recorded = (deps.store.state(STEP_GROUP_KEY) or "").split()
    if len(recorded) != 2 or not recorded[1].isdigit():
        return
    owner, group = recorded[0], int(recorded[1])
    mine = owner == deps.outbox.owner if gone is None else gone(owner)
    if mine and on_this_host(owner):
        kill_group(group)
        deps.store.set_state(STEP_GROUP_KEY, "")


def recover(deps: Deps, gone: Callable[[str | None], bool]) -> list[int]:
    """When a process starts leading: a rollback still "running" whose process is `gone`
    was cut short; say so in its thread and on its incident's timeline, never silently."""
    stop_steps(deps, gone)
    cut = []
    for row in deps.store.rollbacks.find("running"):
        if not gone(row.owner):
            continue  # another process runs it
        text = (
            f":warning: R{row.id} to {row.tag} was cut short: opsbot stopped while it "
            "ran. Check what is deployed before anything else (`/rollback list`)."
        )
        with deps.store.atomic():
            deps.store.rollbacks.update_rollback(
                row.id, status="interrupted", finished_at=deps.clock()
            )
            if row.channel:
                thread = row.thread_ts or row.ts
                posting.enqueue_post(deps, row.channel, {"text": text}, thread_ts=thread)
        cut.append(row.id)
    return cut


@dataclass
class StepResult:
    name: str
    status: str  # pending, running, ok, failed
    seconds: float = 0.0


Report = Callable[[list[StepResult], str], None]


def run(deps: Deps, rollback_id: int, report: Report) -> tuple[str, list[str]]:
    """Run every step in order; stop at the first failure. Returns the outcome and, on
    failure, the last lines of the failing step's output (redacted)."""
    row = deps.store.rollbacks.rollback(rollback_id)
    assert row is not None
    if not deps.store.rollbacks.claim_rollback(rollback_id, deps.clock(), deps.outbox.owner):
        running = deps.store.rollbacks.find("running")
        which = f"R{running[0].id} to {running[0].tag}" if running else "another one"
        raise UserError(f"A rollback is already running ({which}); one at a time.")
    try:
        return _steps(deps, rollback_id, row, _safe(report))
    except Exception as exc:  # the lock must never stay taken: it ends failed, and says so
        deps.store.rollbacks.update_rollback(rollback_id, status="failed", finished_at=deps.clock())
        raise RollbackFailed(describe(exc, log)) from exc


class RollbackFailed(Exception):
    """The run stopped on an error of its own (not a failing step); it is marked failed."""


def _safe(report: Report) -> Report:
    """A Slack error while reporting progress must not stop (or strand) the rollback."""

    def tell(results: list[StepResult], state: str) -> None:
        try:
            report(results, state)
        except Exception:
            log.warning("rollback progress could not be shown", exc_info=True)

    return tell


def _steps(deps: Deps, rollback_id: int, row: Rollback, report: Report) -> tuple[str, list[str]]:
    checkout, tag = repo(deps.settings), releases.validate(repo(deps.settings), row.tag)
    planned = steps(deps.settings)
    results = [StepResult(s.name, "pending") for s in planned]
    for index, step in enumerate(planned):
        results[index].status = "running"
        report(results, "running")
        began = time.monotonic()
        ok, tail = _run_step(deps, step, checkout, tag, row.approvals)
        results[index].seconds = time.monotonic() - began
        results[index].status = "ok" if ok else "failed"
        deps.store.rollbacks.update_rollback(rollback_id, steps=[r.__dict__ for r in results])
        if not ok:
            deps.store.rollbacks.update_rollback(
                rollback_id, status="failed", finished_at=deps.clock()
            )
            report(results, "failed")
            return "failed", tail
    deps.store.set_state(DEPLOYED_KEY, tag)  # what is deployed now, for "recorded" mode
    deps.store.rollbacks.update_rollback(rollback_id, status="ok", finished_at=deps.clock())
    report(results, "ok")
    return "ok", []


def _run_step(
    deps: Deps, step: RollbackStep, checkout: Path, tag: str, approvals: list[str]
) -> tuple[bool, list[str]]:
    if step.argv == ["<built-in>"]:
        return _restore_predeploy(deps, approvals)
    argv = [tag if arg == "{tag}" else arg for arg in step.argv]
    with tempfile.TemporaryFile("w+") as output:
        try:
            # Its own process group, so a timeout (or the bot stopping) ends the step's
            # children too (npm -> node), not only the step.
            proc = subprocess.Popen(
                argv,
                cwd=checkout / step.cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # none of opsbot's settings or secrets: only what the step's config names,
                # and git's trust in the release checkout (safe.directory)
                env=git_env(checkout, clean_env(step.env)),
                start_new_session=True,
            )
        except OSError as exc:
            ok, note = False, f"could not start {argv[0]}: {type(exc).__name__}"
        else:
            deps.store.set_state(STEP_GROUP_KEY, f"{deps.outbox.owner} {proc.pid}")
            try:
                code = proc.wait(timeout=step.timeout_seconds)
                ok, note = code == 0, f"exit code {code}"
            except subprocess.TimeoutExpired:
                kill_group(proc.pid)
                proc.wait()
                ok, note = False, f"stopped after {step.timeout_seconds} s"
            finally:
                deps.store.set_state(STEP_GROUP_KEY, "")
        output.seek(0)
        lines = output.read().splitlines()[-TAIL_LINES:]
    return ok, [redact(line) for line in lines] + ([] if ok else [f"({note})"])


def _restore_predeploy(deps: Deps, approvals: list[str]) -> tuple[bool, list[str]]:
    """Restoring the database is a restore like any other: someone who confirmed the rollback
    must also be allowed to restore backups."""
    marked = deps.store.state(PREDEPLOY_KEY)
    if not marked:
        return False, ["No pre-deployment backup is recorded (`/rollback mark <tag>`)."]
    restorers = [a for a in approvals if a in deps.settings.backup.restore_allowed]
    if not restorers:
        return False, [
            "Restoring the database needs a confirmation from someone in "
            "backup.restore_allowed; nobody who confirmed is."
        ]
    try:
        backups.restore_live(deps, int(marked), actor=restorers[0], progress=lambda n, c: None)
    except UserError as exc:
        return False, [exc.message]
    return True, [f"Restored B{marked}."]


def mark(deps: Deps, tag: str, actor: str) -> tuple[str, int | None]:
    """Before a deploy: take a backup, and record the release being deployed."""
    require_allowed(deps.settings, actor)
    tag = releases.validate(repo(deps.settings), tag)
    backup_id = None
    if deps.mongo is not None:
        outcome = backups.run_backup(
            deps, reason=f"before deploying {tag}", progress=lambda n, c: None
        )
        if outcome.status != "ok":
            raise UserError(f"The pre-deployment backup failed ({outcome.error}); nothing marked.")
        backup_id = outcome.id
        deps.store.set_state(PREDEPLOY_KEY, str(backup_id))
    deps.store.set_state(DEPLOYED_KEY, tag)
    return tag, backup_id


def note(deps: Deps, incident_id: int | None, text: str, actor: str | None = None) -> None:
    """Everything a rollback does lands on its incident's timeline."""
    if incident_id:
        deps.store.incidents.add_entry(incident_id, Entry(deps.clock(), actor, "rollback", text))
