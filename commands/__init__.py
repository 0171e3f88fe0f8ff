"""Slash commands: one package or module per command, listed in COMMANDS.

COMMANDS is the one list the manifest, the README and the tests are checked against.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from commands import (
    alerts,
    backup,
    digest,
    health,
    home,
    incident,
    oncall,
    reactions,
    rollback,
    security,
)

COMMANDS: dict[str, Callable[[App], None]] = {
    "/incident": incident.register,
    "/oncall": oncall.register,
    "/health": health.register,
    "/backup": backup.register,
    "/rollback": rollback.register,
    "/alerts": alerts.register,
}


def register(app: App) -> None:
    for register_command in COMMANDS.values():
        register_command(app)
    # Not commands: the App Home tab, the digests' buttons, reactions (pins and reviews).
    home.register(app)
    digest.register(app)
    security.register(app)
    reactions.register(app)
