"""The plan's monthly security audit: run by the security-audit job or `/health security`."""

from __future__ import annotations

import re

from slack_bolt import App

from bot.domain.audit.render import OPEN_P3
from bot.surface import Surface
from commands.security.handlers import on_open_p3


def register(app: App) -> None:
    app.action(re.compile(rf"^{re.escape(OPEN_P3)}\.\d+$"))(on_open_p3)


SURFACE = Surface(register=register)
