"""Slack edge of /rollback: previews, two-person confirmation, a live step-by-step message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.domain.health import CRITICAL, run_all, worst
from bot.domain.incidents import service as incidents
from bot.replies import Reply, UserError, mention
from bot.store import Rollback
from commands.rollback import releases, render, service

USAGE = (
    "*Usage:* `/rollback [list]` · `/rollback <tag> [INC-n] [--dry-run]` · "
    "`/rollback mark <tag>` (before a deploy: backup + record) · `/rollback <newer tag> "
    "--forward` · `/rollback help`"
)
_INC = re.compile(r"^INC-(\d{1,18})$", re.IGNORECASE)  # more digits than SQLite stores: no id


@dataclass(frozen=True)
class Args:
    verb: str  # list, mark, preview, help
    tag: str = ""
    incident: int | None = None
    dry_run: bool = False
    forward: bool = False


def parse(text: str) -> Args:
    words = text.split()
    if not words or words == ["list"]:
        return Args("list")
    if words == ["help"]:
        return Args("help")
    if words[0] == "mark":
        if len(words) != 2:
            raise UserError("Name the release being deployed: `/rollback mark v1.4.2`.", USAGE)
        return Args("mark", words[1])
    dry_run, forward = "--dry-run" in words, "--forward" in words
    rest = [w for w in words if w not in ("--dry-run", "--forward")]
    incident = None
    if len(rest) == 2 and (match := _INC.match(rest[1])):
        incident, rest = int(match.group(1)), rest[:1]
    if len(rest) != 1:
        raise UserError(
            "Name one release tag, optionally an incident: `/rollback v1.4.1 INC-3`.", USAGE
        )
    return Args("preview", rest[0], incident, dry_run, forward)


def handle(ack: Ack, command: dict[str, Any], respond: Respond, context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    args, actor = parse(command.get("text", "")), command["user_id"]
    if args.verb == "help":
        ack(**Reply(USAGE).as_response())
        return
    service.repo(deps.settings)  # "not configured" first: no permission makes it work
    if args.verb in ("mark", "preview") and not args.dry_run:
        what = "record a deploy" if args.verb == "mark" else "roll back"
        service.require_allowed(deps.settings, actor, what)
    deps.pools.rollbacks.check()
    ack(**Reply(":hourglass: Reading the release checkout…").as_response())
    work = {"list": _list, "mark": _mark, "preview": _preview}[args.verb]
    deps.in_background(deps.pools.rollbacks, lambda: work(deps, args, actor, respond), respond)


def _list(deps: Deps, args: Args, actor: str, respond: Respond) -> None:
    tags = releases.releases(service.repo(deps.settings))
    respond(
        replace_original=True, **render.render_releases(tags, service.current(deps)).as_response()
    )


def _mark(deps: Deps, args: Args, actor: str, respond: Respond) -> None:
    tag, backup_id = service.mark(deps, args.tag, actor)
    saved = f" Pre-deployment backup: B{backup_id}." if backup_id else " (No MongoDB to back up.)"
    respond(replace_original=True, text=f":bookmark: Deploying `{tag}` recorded.{saved}")


def _preview(deps: Deps, args: Args, actor: str, respond: Respond) -> None:
    incident = incidents.find_incident(deps.store, args.incident) if args.incident else None
    shown = service.preview(deps, args.tag, incident, args.forward)
    if args.dry_run:
        respond(
            replace_original=True, **render.render_preview(shown, None, deps.settings).as_response()
        )
        return
    rollback_id = service.request(deps, shown, actor)
    card = render.render_preview(shown, rollback_id, deps.settings)
    channel, thread = deps.settings.incidents_channel, None
    if incident and incident.card_ts:
        channel, thread = incident.card_channel or channel, incident.card_ts
    posted = deps.slack.chat_postMessage(channel=channel, thread_ts=thread, **card.as_message())
    deps.store.rollbacks.update_rollback(
        rollback_id, channel=posted["channel"], ts=posted["ts"], thread_ts=thread or posted["ts"]
    )
    service.note(deps, args.incident, f"Rollback R{rollback_id} to {shown.tag} proposed", actor)
    respond(
        replace_original=True,
        text=f"Rollback R{rollback_id} to `{shown.tag}` is waiting "
        "for confirmation (the buttons are on the preview).",
    )


def on_answer(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    actor, rollback_id = body["user"]["id"], int(action["value"])
    if action["action_id"] == render.CANCEL:
        service.require_allowed(deps.settings, actor)
        service.cancel(deps, rollback_id, actor)
        ack()
        respond(
            replace_original=True,
            text=f"Rollback R{rollback_id} cancelled by {mention(actor)}. Nothing ran.",
        )
        return
    row = deps.store.rollbacks.rollback(rollback_id)
    incident = deps.store.incidents.incident(row.incident_id) if row and row.incident_id else None
    needed = service.approvals_needed(deps.settings, incident)
    row, ready = service.approve(deps, rollback_id, actor, needed)
    ack()
    if not ready:
        respond(
            replace_original=False,
            response_type="in_channel",
            text=f"{mention(actor)} confirmed R{rollback_id}; a second allowed person must "
            "confirm before it runs.",
        )
        return
    deps.in_background(deps.pools.rollbacks, lambda: _execute(deps, row), respond)


def _execute(deps: Deps, row: Rollback) -> None:
    rollback_id, tag, approvals = row.id, row.tag, row.approvals
    forward = releases.newer(tag, row.from_tag)
    # the preview was posted, and where it is recorded, before its buttons could be pressed
    channel, preview_ts = row.channel, row.ts
    assert channel is not None and preview_ts is not None

    def report(results: list[service.StepResult], state: str) -> None:
        progress = render.render_progress(tag, results, state, approvals, forward)
        # blocks always sent: Slack keeps the old ones (Confirm/Cancel) when they are left out
        deps.slack.chat_update(
            channel=channel, ts=preview_ts, text=progress.text, blocks=progress.blocks
        )

    service.note(
        deps,
        row.incident_id,
        f"Rollback R{rollback_id} to {tag} started, "
        f"confirmed by {', '.join(mention(a) for a in approvals)}",
    )
    thread = row.thread_ts
    try:
        outcome, tail = service.run(deps, rollback_id, report)
    except service.RollbackFailed as exc:
        deps.slack.chat_postMessage(
            channel=channel, thread_ts=thread, text=f":x: R{rollback_id} stopped: {exc}"
        )
        service.note(deps, row.incident_id, f"Rollback R{rollback_id} to {tag} failed")
        return
    if outcome == "failed":
        text = (
            f":x: R{rollback_id} stopped. Last lines of the failing step:\n```\n"
            + "\n".join(tail)
            + "\n```"
        )
        deps.slack.chat_postMessage(channel=channel, thread_ts=thread, text=text)
        service.note(deps, row.incident_id, f"Rollback R{rollback_id} to {tag} failed")
        return
    readings = run_all(deps.settings, http=deps.http, mongo=deps.mongo)
    state = worst([r.state for r in readings])
    lines = ", ".join(f"{r.check} {r.state}" for r in readings)
    verdict = (
        ":x: Health after the rollback is *critical*"
        if state == CRITICAL
        else ":stethoscope: Health after the rollback"
    )
    deps.slack.chat_postMessage(channel=channel, thread_ts=thread, text=f"{verdict}: {lines}")
    service.note(deps, row.incident_id, f"Rollback R{rollback_id} to {tag} done; health: {state}")
