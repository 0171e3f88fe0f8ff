"""create_app: the Bolt App every edge (HTTP, Socket Mode, the local console) dispatches to."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import timedelta
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

import commands
from bot.deps import Deps
from bot.replies import describe

log = logging.getLogger(__name__)

# Slack redelivers an event up to 3 times over about 6 minutes; remember ids for a day.
SEEN_EVENTS_KEPT = timedelta(days=1)


class _TokenFromClient(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN from the environment is unused when it is given a client;
    the client was built from that very token, so the warning only misleads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_TokenFromClient())


def make_client(token: str, base_url: str) -> WebClient:
    """A Web API client that waits out 429s (Retry-After) and retries 5xx and dropped sockets."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def create_app(
    deps: Deps, *, signing_secret: str, listener_executor: Executor, verify_token: bool = True
) -> App:
    app = App(
        client=deps.slack,
        signing_secret=signing_secret,
        listener_executor=listener_executor,
        token_verification_enabled=verify_token,
    )

    @app.middleware
    def prepare(
        context: dict[str, Any], body: dict[str, Any], next: Callable[[], None]
    ) -> BoltResponse | None:
        # One middleware, not two: it runs on every request, acks included.
        context["deps"] = deps
        # Slack retries an event it thinks failed; the retry must not repeat its effect.
        event_id = body.get("event_id")
        if event_id and not deps.store.first_sighting(event_id, deps.clock(), SEEN_EVENTS_KEPT):
            return BoltResponse(status=200, body="")
        next()
        return None

    app.error(on_error)
    commands.register(app)
    return app


def on_error(
    error: Exception, body: dict[str, Any], response: BoltResponse | None, respond: Any
) -> BoltResponse | None:
    """The one place listener errors become words for the person who asked."""
    text = describe(error, log)
    if response is not None and body.get("type") != "block_actions":
        # Not acknowledged yet: the answer to the command itself carries the message.
        payload = json.dumps({"response_type": "ephemeral", "text": text})
        return BoltResponse(status=200, body=payload, headers={"content-type": "application/json"})
    if respond is not None:
        respond(text=text, response_type="ephemeral", replace_original=False)
    return BoltResponse(status=200, body="") if response is not None else None
