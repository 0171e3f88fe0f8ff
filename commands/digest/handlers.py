"""Slack edge of the digests: per-check and per-item buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.domain import checklists
from bot.domain.maintenance import REVIEWABLE
from commands.digest import render, service


def on_button(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    ack()
    digest_id, user = int(action["value"]), body["user"]["id"]
    suffix = action["action_id"].rsplit(".", 1)[1]
    if action["action_id"].startswith(render.CHECK):
        item, label = suffix, REVIEWABLE.get(suffix, suffix)
    else:
        digest = deps.store.digests.digest(digest_id)
        assert digest is not None
        item = label = checklists.CHECKLISTS[digest.kind][int(suffix)]
    if service.mark_item(deps, digest_id, item, user):
        respond(
            replace_original=False,
            response_type="ephemeral",
            text=f"Recorded: {label}, by you. It goes into this month's maintenance log.",
        )
