"""What a Slack-facing part of opsbot (a slash command, the App Home, a digest's buttons) tells
the core about itself, as data.

Each package under commands/ declares one Surface; commands.SURFACES lists them all, and the
composition root (bot/wiring.py) hands that table to the core: the app registers their
listeners and learns their replay rules, the reaction listener routes emoji to them, the
HTTP server serves their routes, the outbox delivers their kinds. The core knows no command
by name, and nothing registers itself by being imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from bot.deps import Deps
    from bot.kinds import Kind

# An Events API reaction (added or removed) on a message, for the emoji it is registered for.
ReactionHandler = Callable[[dict[str, Any], WebClient, dict[str, Any]], None]
# A WSGI handler of one HTTP route, with the bot's Deps.
RouteHandler = Callable[["Deps", "WSGIEnvironment", "StartResponse"], Iterable[bytes]]


@dataclass(frozen=True)
class Route:
    """An HTTP route besides Slack's: `path` exactly, or every path under it when it ends
    with `/`."""

    path: str
    methods: tuple[str, ...]
    handle: RouteHandler

    def matches(self, path: str, method: str) -> bool:
        found = path.startswith(self.path) if self.path.endswith("/") else path == self.path
        return found and method in self.methods


@dataclass(frozen=True)
class Surface:
    """One part's listeners, and what the core must know about them.

    `command`: its slash command, if any. `read_only`: the subcommands that only read (a
    replay of them has nothing to repeat, so they cost no write); None when every subcommand
    only reads. `replay_in_change`: its listeners record a request's replay key in the
    transaction of their own change (one write on the busiest path) rather than the core
    recording it first; `action_prefix` names its buttons that do the same."""

    register: Callable[[App], None] = lambda app: None
    command: str | None = None
    read_only: frozenset[str] | None = frozenset()
    replay_in_change: bool = False
    action_prefix: str | None = None
    reactions: Mapping[str, ReactionHandler] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    kinds: Mapping[str, Kind] = field(default_factory=dict)
