"""/backup: MongoDB backups you can trust, verified and restore-tested."""

from __future__ import annotations

from slack_bolt import App

from bot.surface import Surface
from commands.backup.handlers import handle, on_care_answer, on_restore_answer
from commands.backup.render import (
    ARCHIVE_REMOVE,
    CARE_CANCEL,
    CLEANUP_CONFIRM,
    RESTORE_CANCEL,
    RESTORE_CONFIRM,
)

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/backup")(handle)
    app.action(RESTORE_CONFIRM)(on_restore_answer)
    app.action(RESTORE_CANCEL)(on_restore_answer)
    for action_id in (CLEANUP_CONFIRM, ARCHIVE_REMOVE, CARE_CANCEL):
        app.action(action_id)(on_care_answer)


SURFACE = Surface(
    register=register, command="/backup", read_only=frozenset({"help", "list", "indexes", "slow"})
)
