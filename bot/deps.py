"""Everything a listener or job needs, built once by the composition root and passed in."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pymongo import MongoClient
from slack_bolt import Respond
from slack_sdk import WebClient

from bot.config import Settings
from bot.replies import Reply, describe
from bot.store import Store, now_utc

log = logging.getLogger(__name__)

OUTBOX_WAIT_SECONDS = 120  # a post waits behind the queue and Slack's rate-limit retries


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    slack: WebClient
    # Slow work (backups, rollbacks): never on Bolt's listener threads.
    executor: Executor
    # Posts and updates to Slack after an ack, on ONE thread: a card's updates reach Slack in
    # the order they were committed, acks never wait behind them, and a burst is paced.
    outbox: Executor
    clock: Callable[[], datetime] = now_utc
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))
    # Prompt-Base's MongoDB, or None when MONGODB_URI is not set (checks say "not configured").
    mongo: Callable[[], MongoClient[Any]] | None = None

    def post_later(self, work: Callable[[], object], respond: Respond | None = None) -> None:
        """Queue Slack side effects on the outbox; a failure is told to whoever asked."""
        self.outbox.submit(_guarded(work, respond))

    def post_now(self, channel: str, reply: Reply, thread_ts: str | None = None) -> dict[str, str]:
        """Post through the outbox (in order with every other post) and wait for Slack's
        answer: for jobs and alarms, which record or re-arm only once Slack has it."""
        posted = self.outbox.submit(
            lambda: self.slack.chat_postMessage(
                channel=channel, thread_ts=thread_ts, **reply.as_message()
            )
        ).result(timeout=OUTBOX_WAIT_SECONDS)
        return {"channel": posted["channel"], "ts": posted["ts"]}

    def in_background(self, work: Callable[[], object], respond: Respond | None = None) -> None:
        """Slow work (probes, backups) on the bot's own pool, never on Bolt's listeners."""
        self.executor.submit(_guarded(work, respond))


def _guarded(work: Callable[[], object], respond: Respond | None) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except Exception as exc:  # the background's error boundary, as @app.error is Bolt's
            text = describe(exc, log)
            if respond is not None:
                respond(text=text, response_type="ephemeral", replace_original=False)

    return run
