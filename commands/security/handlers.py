"""Slack edge of the audit: the "open a P3" button on a critical finding."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.domain.audit import service
from bot.domain.incidents import service as incidents
from bot.domain.incidents.outcome import Outcome, publish
from bot.replies import Reply, UserError


def on_open_p3(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    found = service.finding(deps, action["value"])
    if found is None:
        raise UserError("That finding is not in the latest audit any more.")
    with deps.store.atomic():
        opened = incidents.open_incident(
            deps.store,
            deps.settings,
            severity="P3",
            title=f"Security: {found.title}"[:200],
            actor=body["user"]["id"],
            now=deps.clock(),
            via="security",
        )
        publish(Outcome(Reply(""), opened), deps)
    ack()
    respond(
        replace_original=False,
        response_type="ephemeral",
        text=f"Opened {opened.ref} (P3) for this finding.",
    )
