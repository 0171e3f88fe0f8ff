"""/health: the plan's daily health check on demand; the monitor job runs the same checks."""

from __future__ import annotations

from slack_bolt import App

from bot.surface import Surface
from commands.health.handlers import handle

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/health")(handle)


# Every /health subcommand only reads (the audit records, harmlessly): a hundred /health
# during an outage must not queue on the database.
SURFACE = Surface(register=register, command="/health", read_only=None)
