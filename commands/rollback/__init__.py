"""/rollback: the plan's rollback procedure, previewed, confirmed and observable."""

from __future__ import annotations

from slack_bolt import App

from bot.surface import Surface
from commands.rollback.handlers import handle, on_answer
from commands.rollback.render import CANCEL, CONFIRM

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/rollback")(handle)
    app.action(CONFIRM)(on_answer)
    app.action(CANCEL)(on_answer)


SURFACE = Surface(register=register, command="/rollback", read_only=frozenset({"help", "list"}))
