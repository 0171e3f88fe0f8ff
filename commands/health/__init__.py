"""/health: the plan's daily health check on demand; the monitor job runs the same checks."""

from __future__ import annotations

from slack_bolt import App

from commands.health.handlers import handle

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/health")(handle)
