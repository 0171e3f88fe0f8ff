"""/backup: MongoDB backups you can trust, verified and restore-tested."""

from __future__ import annotations

from slack_bolt import App

from commands.backup.handlers import handle, on_restore_answer
from commands.backup.render import RESTORE_CANCEL, RESTORE_CONFIRM

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/backup")(handle)
    app.action(RESTORE_CONFIRM)(on_restore_answer)
    app.action(RESTORE_CANCEL)(on_restore_answer)
