"""What one kind of outbox row is: how it is delivered, what is kept once it is, and what
replaces it when Slack refuses it (bot/outbox.py delivers; the surfaces declare their kinds,
bot/posting.py the generic Slack ones)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from bot.store import Effect

if TYPE_CHECKING:
    from bot.deps import Deps


@dataclass(frozen=True)
class Kind:
    """How one kind of row is delivered. `deliver` returns what to remember (a message's
    channel and ts); `fallback` replaces a row that is refused, or not delivered within
    `page_fallback_minutes` of being owed; `on_failure` hears every failure (final=True when
    the row is given up on)."""

    deliver: Callable[[Deps, Effect, WebClient], dict[str, Any] | None]
    label: str
    paced: bool = False  # posts count against Slack's per-channel pace
    # What to write once it is delivered (the incident points at its new card): in the
    # transaction that marks the row done, so both or neither are kept.
    record: Callable[[Deps, Effect, dict[str, Any]], None] | None = None
    fallback: Callable[[Deps, Effect, str], None] | None = None
    on_failure: Callable[[Deps, Effect, str, bool], None] | None = None
