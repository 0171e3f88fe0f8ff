"""/incident: declare, acknowledge, run the response steps, resolve, write the post-mortem."""

from __future__ import annotations

import re

from slack_bolt import App

from commands.incident.handlers import BUTTONS, handle, on_button, on_snooze
from commands.incident.render import SNOOZE

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/incident")(handle)
    app.action(re.compile("^(" + "|".join(map(re.escape, BUTTONS)) + ")$"))(on_button)
    app.action(re.compile("^" + re.escape(SNOOZE) + r"\.\d+$"))(on_snooze)
