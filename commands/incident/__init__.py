"""/incident: declare, acknowledge, run the response steps, resolve, write the post-mortem."""

from __future__ import annotations

import re

from slack_bolt import App

from bot.domain.incidents import effects, outside, room_delivery
from bot.domain.incidents.card import DECLARE_FORM, SNOOZE
from bot.surface import Surface
from commands.incident import card_forms, modals, pins, stats
from commands.incident.handlers import BUTTONS, handle, on_button, on_snooze

__all__ = ["handle", "register"]


def register(app: App) -> None:
    app.command("/incident")(handle)
    app.shortcut(modals.DECLARE)(modals.on_shortcut)
    app.view(modals.DECLARE)(modals.on_submit)
    app.action(DECLARE_FORM)(modals.on_home_button)
    app.action(re.compile("^(" + "|".join(map(re.escape, BUTTONS)) + ")$"))(on_button)
    app.action(re.compile("^" + re.escape(SNOOZE) + r"\.\d+$"))(on_snooze)
    app.action(re.compile("^(" + "|".join(map(re.escape, card_forms.FORMS)) + ")$"))(
        card_forms.on_button
    )
    for callback in card_forms.BY_VIEW:
        app.view(callback)(card_forms.on_submit)


SURFACE = Surface(
    register=register,
    command="/incident",
    read_only=frozenset(
        {"", "help", "list", "show", "timeline", "postmortem", "comms", "actions", "stats"}
    ),
    replay_in_change=True,  # its handlers record the replay key in the change's transaction
    action_prefix="incident.",
    reactions={pins.PIN: pins.on_reaction},
    kinds={**effects.KINDS, **outside.KINDS, **room_delivery.KINDS, **stats.KINDS},
)
