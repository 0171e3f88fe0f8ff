"""/oncall: the weekly rotation in Slack: who now, next, me; schedule; set, override, swap;
its calendar feeds."""

from __future__ import annotations

from slack_bolt import App

from bot.surface import Route, Surface
from commands.oncall import feeds
from commands.oncall.handlers import handle, on_swap_answer
from commands.oncall.render import SWAP_ACCEPT, SWAP_DECLINE

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/oncall")(handle)
    app.action(SWAP_ACCEPT)(on_swap_answer)
    app.action(SWAP_DECLINE)(on_swap_answer)


SURFACE = Surface(
    register=register,
    command="/oncall",
    read_only=frozenset({"", "help", "schedule", "contacts", "mine", "next"}),
    routes=(Route(feeds.PATH, ("GET", "HEAD"), feeds.serve),),
)
