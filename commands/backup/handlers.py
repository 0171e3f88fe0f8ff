"""Slack edge of /backup: ack at once; dumps, checks and restores run on the bot's pool."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.replies import Reply, UserError
from commands.backup import render, service

USAGE = (
    "*Usage:* `/backup [run]` · `/backup list` · `/backup verify [B<n>] [--restore]` · "
    "`/backup restore B<n>` · `/backup help`"
)
_ID = re.compile(r"^B?(\d+)$", re.IGNORECASE)


def parse(text: str) -> tuple[str, int | None, bool]:
    words = text.split()
    verb = words[0].lower() if words else "run"
    rest = words[1:]
    restore_test = "--restore" in rest
    rest = [w for w in rest if w != "--restore"]
    if verb not in ("run", "list", "verify", "restore", "help") or len(rest) > 1:
        raise UserError(f"I don't understand `{text.strip()}`.", USAGE)
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
        rows = deps.store.backups(limit=20)
        ack(**render.render_list(rows, deps.clock(), deps.settings).as_response())
    elif verb == "restore":
        service.require_restorer(deps, command["user_id"])
        ack(**render.render_restore_question(service.good(deps, backup_id)).as_response())
    elif verb == "verify":
        ack(**Reply(":mag: Verifying…").as_response())
        deps.in_background(lambda: _verify(deps, backup_id, restore_test, respond), respond)
    else:
        service._client(deps)  # says "not configured" now, not after the ack
        ack(**Reply(":hourglass: Backup started…").as_response())
        deps.in_background(lambda: _run(deps, command["user_id"], respond), respond)


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
        text = f":x: B{row['id']} failed verification: " + "; ".join(problems)
    else:
        how = "checksum, every file readable, counts match" + (
            "; restored into a scratch database and counted, then dropped" if restore_test else ""
        )
        text = f":white_check_mark: B{row['id']} verified: {how}."
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

    deps.in_background(work, respond)
