"""/incident: declare, acknowledge, run the response steps, resolve, write the post-mortem."""

from __future__ import annotations

import re

from slack_bolt import App

from commands.incident.handlers import handle, on_reaction, on_step

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/incident")(handle)
    app.action(re.compile(r"^incident\."))(on_step)
    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)
