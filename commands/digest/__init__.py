"""The scheduled digests' buttons (the digests themselves are posted by jobs)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.surface import Surface
from commands.digest import service
from commands.digest.handlers import on_button
from commands.digest.render import CHECK, DONE


def register(app: App) -> None:
    app.action(re.compile(rf"^({re.escape(CHECK)}|{re.escape(DONE)})\.\w+$"))(on_button)


def on_reaction(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
    """✅ on a daily digest marks it reviewed; ⚠️ opens a P3 from it."""
    service.on_reaction(context["deps"], event)


SURFACE = Surface(
    register=register,
    reactions={service.REVIEWED: on_reaction, service.FOLLOW_UP: on_reaction},
)
