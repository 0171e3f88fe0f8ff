"""One listener for reaction events (Bolt runs only the first matching one): :pushpin: in an
incident's thread, or a review reaction on a digest."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.deps import Deps
from commands.digest import service as digests
from commands.incident import pins


def register(app: App) -> None:
    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)


def on_reaction(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    if event.get("reaction") == pins.PIN:
        pins.on_reaction(event, client, context)
    elif event.get("reaction") in (digests.REVIEWED, digests.FOLLOW_UP):
        digests.on_reaction(deps, event)
