"""The scheduled digests' buttons (the digests themselves are posted by jobs)."""

from __future__ import annotations

import re

from slack_bolt import App

from commands.digest.handlers import on_button
from commands.digest.render import CHECK, DONE


def register(app: App) -> None:
    app.action(re.compile(rf"^({re.escape(CHECK)}|{re.escape(DONE)})\.\w+$"))(on_button)
