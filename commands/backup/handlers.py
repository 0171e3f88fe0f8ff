"""Slack edge of /backup: ack at once; dumps, checks and restores run on the bot's pool."""

from __future__ import annotations

import difflib
import re
from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.replies import Reply, UserError
from commands.backup import care, render, service

USAGE = (
    "*Usage:* `/backup [run]` · `/backup list` · `/backup verify [B<n>] [--restore]` · "
    "`/backup restore B<n>` · database care: `/backup indexes` · `/backup slow` · "
    "`/backup cleanup` · `/backup archive <year>` · `/backup help`"
)
CARE = ("indexes", "slow", "cleanup", "archive")
_ID = re.compile(r"^B?(\d+)$", re.IGNORECASE)


def parse(text: str) -> tuple[str, int | None, bool]:
    words = text.split()
    verb = words[0].lower() if words else "run"
    rest = words[1:]
    restore_test = "--restore" in rest
    rest = [w for w in rest if w != "--restore"]
    verbs = ("run", "list", "verify", "restore", "help", *CARE)
    if verb not in verbs:
        close = difflib.get_close_matches(verb, verbs, n=1)
        guess = f" Did you mean `/backup {close[0]}`?" if close else ""
        raise UserError(f"Unknown subcommand `{verb}`.{guess}", USAGE)
    if len(rest) > 1:
        raise UserError(f"I don't understand `{text.strip()}`.", USAGE)
    if verb == "archive":
        if not rest or not rest[0].isdigit() or not 2000 <= int(rest[0]) <= 2100:
            raise UserError(
                "Name the year: `/backup archive 2025` archives what was created before 2025.",
                USAGE,
            )
        return verb, int(rest[0]), False
    if verb in CARE and rest:
        raise UserError(f"`{verb}` takes nothing more.", USAGE)
    if restore_test and verb != "verify":
        raise UserError("`--restore` goes with `verify`.", USAGE)
    backup_id = None
    if rest:
        match = _ID.match(rest[0])
        if not match or verb in ("run", "list", "help"):
            raise UserError(f"`{rest[0]}` is not a backup id like `B12`.", USAGE)
        backup_id = int(match.group(1))
    if verb == "restore" and backup_id is None:
        raise UserError("Name the backup to restore: `/backup restore B12`.", USAGE)
    return verb, backup_id, restore_test


def handle(ack: Ack, command: dict[str, Any], respond: Respond, context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    verb, backup_id, restore_test = parse(command.get("text", ""))
    if verb == "help":
        ack(**Reply(USAGE).as_response())
    elif verb == "list":
        rows = deps.store.backups.find(limit=20)
        ack(**render.render_list(rows, deps.clock(), deps.settings).as_response())
    elif verb == "restore":
        service.require_restorer(deps, command["user_id"])
        ack(**render.render_restore_question(service.good(deps, backup_id)).as_response())
    elif verb in CARE:
        _care(deps, verb, backup_id, command["user_id"], ack, respond)
    elif verb == "verify":
        deps.pools.backups.check()  # a full queue is said now, instead of "Verifying…"
        ack(**Reply(":mag: Verifying…").as_response())
        deps.in_background(
            deps.pools.backups, lambda: _verify(deps, backup_id, restore_test, respond), respond
        )
    else:
        service.mongo_client(deps)  # says "not configured" now, not after the ack
        deps.pools.backups.check()
        ack(**Reply(":hourglass: Backup started…").as_response())
        deps.in_background(
            deps.pools.backups, lambda: _run(deps, command["user_id"], respond), respond
        )


def _progress(verb: str, respond: Respond) -> Any:
    done: dict[str, int] = {}

    def step(name: str, count: int) -> None:
        done[name] = count
        respond(replace_original=True, **render.render_progress(verb, done).as_response())

    return step


def _run(deps: Deps, actor: str, respond: Respond) -> None:
    outcome = service.run_backup(
        deps, reason=f"/backup by {actor}", progress=_progress("Backing up", respond)
    )
    respond(replace_original=True, **render.render_outcome(outcome).as_response())


def _verify(deps: Deps, backup_id: int | None, restore_test: bool, respond: Respond) -> None:
    row, problems = service.verify(
        deps, backup_id, restore_test=restore_test, progress=_progress("Restore test", respond)
    )
    if problems:
        text = f":x: B{row.id} failed verification: " + "; ".join(problems)
    else:
        how = "checksum, every file readable, counts match" + (
            "; restored into a scratch database and counted, then dropped" if restore_test else ""
        )
        text = f":white_check_mark: B{row.id} verified: {how}."
    respond(replace_original=True, **Reply(text).as_response())


def on_restore_answer(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    actor, backup_id = body["user"]["id"], int(action["value"])
    if action["action_id"] == render.RESTORE_CANCEL:
        ack()
        respond(replace_original=True, text=f"Restore of B{backup_id} cancelled. Nothing changed.")
        return
    service.require_restorer(deps, actor)  # checked again: the button may be pressed by anyone
    ack()
    respond(replace_original=True, text=f":hourglass: Restoring B{backup_id}…")

    def work() -> None:
        outcome = service.restore_live(
            deps, backup_id, actor=actor, progress=_progress(f"Restoring B{backup_id}", respond)
        )
        respond(replace_original=True, **render.render_outcome(outcome).as_response())

    deps.in_background(deps.pools.backups, work, respond)


def _care(deps: Deps, verb: str, year: int | None, actor: str, ack: Ack, respond: Respond) -> None:
    """Reports answer in the background; destructive steps ask first, allowed users only."""
    if verb in ("cleanup", "archive"):
        service.require_restorer(deps, actor)
    db = service.mongo_client(deps, "look at")[deps.settings.backup.database]
    ack(**Reply(":mag: Looking at the database…").as_response())

    def report() -> Reply:
        if verb == "indexes":
            return Reply(render.render_indexes(care.review_indexes(db)))
        if verb == "slow":
            return Reply(render.render_slow(care.slow_queries(db)))
        if verb == "cleanup":
            return render.render_cleanup_question(care.count_candidates(db, deps.clock()))
        assert year is not None
        folder = deps.settings.backup_dir / f"archive-before-{year}"
        counts = care.archive(db, year, folder)
        deps.store.backups.log_care(deps.clock(), actor, f"archive before {year}", counts)
        return render.render_archive_question(year, counts, str(folder))

    deps.in_background(
        deps.pools.backups,
        lambda: respond(replace_original=True, **report().as_response()),
        respond,
    )


def on_care_answer(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    actor = body["user"]["id"]
    if action["action_id"] == render.CARE_CANCEL:
        ack()
        respond(replace_original=True, text="Cancelled. Nothing was deleted.")
        return
    service.require_restorer(deps, actor)
    ack()
    db = service.mongo_client(deps)[deps.settings.backup.database]

    def work() -> None:
        now = deps.clock()
        if action["action_id"] == render.CLEANUP_CONFIRM:
            before = care.count_candidates(db, now)
            deleted = care.delete_candidates(db, now)
            deps.store.backups.log_care(
                now, actor, "cleanup", {"counted": sum(before.values()), **deleted}
            )
            text = "Deleted " + ", ".join(f"{n:,} {name}" for name, n in deleted.items()) + "."
        else:
            year, expected = map(int, action["value"].split(":"))
            removed = care.remove_archived(db, year, expected)
            deps.store.backups.log_care(
                now, actor, f"remove archived before {year}", {"prompts": removed}
            )
            text = f"Removed {removed:,} archived prompts created before {year}."
        respond(replace_original=True, text=f":wastebasket: {text} Recorded in the care log.")

    deps.in_background(deps.pools.backups, work, respond)
