"""Everything a listener or job needs, built once by the composition root and passed in."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from pymongo import MongoClient
from slack_bolt import Respond
from slack_sdk import WebClient

from bot.config import Settings
from bot.pools import Pool, Pools
from bot.replies import Reply, describe
from bot.store import Store, now_utc

if TYPE_CHECKING:
    from bot.outbox import Outbox

log = logging.getLogger(__name__)

POST_WAIT_SECONDS = 120  # a job's post waits behind its lane and Slack's rate limits


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    # For answers to the person who asked (responses, ephemeral replies, look-ups). Effects
    # owed to the world go through the outbox instead: written with the change, never lost.
    slack: WebClient
    outbox: Outbox
    # Slow work (probes, backups, rollbacks): bounded pools, never on Bolt's listener threads.
    pools: Pools
    clock: Callable[[], datetime] = now_utc
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))
    # Prompt-Base's MongoDB, or None when MONGODB_URI is not set (checks say "not configured").
    mongo: Callable[[], MongoClient[Any]] | None = None
    # The scheduled jobs' next runs, soonest first (the App Home shows them): handed in by the
    # composition root, so no command imports the jobs.
    next_jobs: Callable[[Deps, datetime], list[tuple[datetime, str]]] | None = None

    def post_now(self, channel: str, reply: Reply, thread_ts: str | None = None) -> dict[str, str]:
        """Post through the outbox and wait until Slack has it: for jobs and alarms that
        record the message's ts. The row is durable: a crash while waiting still posts it."""
        from bot.posting import enqueue_post

        row = enqueue_post(self, channel, reply.as_message(), thread_ts)
        assert row is not None
        posted = self.outbox.wait_for(row, POST_WAIT_SECONDS)
        return {"channel": str(posted["channel"]), "ts": str(posted["ts"])}

    def in_background(
        self, pool: Pool, work: Callable[[], object], respond: Respond | None = None
    ) -> None:
        """Slow work on one of the bot's bounded pools; Busy (said to the person) when full."""
        pool.submit(guarded(work, respond))


def guarded(work: Callable[[], object], respond: Respond | None) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except Exception as exc:  # the background's error boundary, as @app.error is Bolt's
            tell(exc, respond)

    return run


def tell(exc: BaseException, respond: Respond | None) -> None:
    text = describe(exc, log) if isinstance(exc, Exception) else "stopped"
    if respond is not None:
        respond(text=text, response_type="ephemeral", replace_original=False)
