"""create_app: the Bolt App every edge (HTTP, Socket Mode, the local console) dispatches to."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.listener.custom_listener import CustomListener
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.deps import Deps, tell
from bot.failures import failure_text, transient
from bot.inbox import TRANSIENT
from bot.redact import RedactingClient
from bot.replies import describe
from bot.store import StoreBusy, StoreUnwritable, answered
from bot.store.base import REPLAY_KEYS_KEPT
from bot.surface import Surface

log = logging.getLogger(__name__)

ALREADY_DONE = ":information_source: That request was already handled; nothing more was done."


class _TokenFromClient(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN from the environment is unused (or ignored) when it is
    given a client and an authorize; both carry that very token, so the warning misleads."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "will be unused" not in message and "will be ignored" not in message


logging.getLogger("slack_bolt.App").addFilter(_TokenFromClient())


def make_client(token: str, base_url: str) -> WebClient:
    """A Web API client that waits out 429s (Retry-After) and retries 5xx and dropped sockets."""
    return RedactingClient(
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
    deps: Deps,
    *,
    signing_secret: str,
    listener_executor: Executor,
    surfaces: Sequence[Surface],
    verify_token: bool = True,
    for_inbox: bool = False,
    authorize: Callable[..., AuthorizeResult] | None = None,
) -> App:
    """The app Slack's requests reach, or (`for_inbox`) the one the inbox runs stored events
    through: it runs listeners before it answers, so a stored event is done only when they
    are, and it reports a listener's failure so the event is tried again. Its listeners are
    the `surfaces`' (commands.SURFACES, handed over by the composition root). With
    `authorize` (bot/identity.py) Bolt never calls Slack to authorize a request."""
    replays = Replays.of(surfaces)
    app = App(
        client=deps.slack,
        signing_secret=signing_secret,
        listener_executor=listener_executor,
        token_verification_enabled=verify_token and authorize is None,
        process_before_response=for_inbox,
        authorize=authorize,
    )

    @app.middleware
    def prepare(
        context: dict[str, Any], body: dict[str, Any], next: Callable[[], None]
    ) -> BoltResponse | None:
        # One middleware, not two: it runs on every request, acks included.
        context["deps"] = deps
        if for_inbox:
            next()
            return None
        if body.get("type") == "event_callback" and body.get("event_id"):
            # Stored before the 200; a retry of the same event_id is stored once. Not stored
            # within the write budget: 503, and Slack sends it again (a 200 it never repeats).
            try:
                deps.store.inbox.receive(
                    str(body["event_id"]), json.dumps(body), deps.outbox.clock()
                )
            except (StoreBusy, StoreUnwritable) as exc:
                log.warning(
                    "event %s not stored (%s): Slack will send it again",
                    body["event_id"],
                    type(exc).__name__,
                )
                return BoltResponse(status=503, body="")
            return BoltResponse(status=200, body="")
        key = replays.key(body)
        if key and replays.in_own_transaction(body):
            context["replay_key"] = key  # the listener records it with its change
        elif key and not deps.store.first_sighting(key, deps.clock(), REPLAY_KEYS_KEPT):
            log.warning("replayed request ignored")
            text = json.dumps({"response_type": "ephemeral", "text": ALREADY_DONE})
            kind: dict[str, str | Sequence[str]] = {"content-type": "application/json"}
            return BoltResponse(status=200, body="" if body.get("actions") else text, headers=kind)
        next()
        return None

    app.error(on_inbox_error if for_inbox else on_error)
    for surface in surfaces:
        surface.register(app)
    route_reactions(app, surfaces)
    for listener in app._listeners:  # Bolt's own list: see keep_ack
        if isinstance(listener, CustomListener):
            listener.ack_function = keep_ack(listener.ack_function)
    return app


def keep_ack(listener: Callable[..., Any]) -> Callable[..., Any]:
    """Once a listener has called ack(), an error it raises must not undo the answer: Bolt
    resets the ack when a listener raises after acking (slack_bolt/listener/thread_runner.py)
    and its request thread, still waiting to see the ack, answers 404 after 3 s instead. So
    after ack the error is told with respond(), like any error in background work."""

    @functools.wraps(listener)
    def run(**kwargs: Any) -> Any:
        ack = kwargs.get("ack")
        if ack is not None:  # once answered, what it writes has the whole write budget
            kwargs["ack"] = functools.partial(_then_answered, ack)
        try:
            return listener(**kwargs)
        except Exception as exc:
            if ack is None or ack.response is None:
                raise
            tell(exc, kwargs.get("respond"))
            return None

    return run


def _then_answered(ack: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    done = ack(*args, **kwargs)
    answered()
    return done


@dataclass(frozen=True)
class Replays:
    """Which requests can be replayed with an effect, from the surfaces' declarations."""

    read_only: Mapping[str, frozenset[str] | None]  # by command: subcommands that only read
    in_change: frozenset[str]  # commands that record their replay key with their change
    action_prefixes: tuple[str, ...]  # buttons that do the same

    @classmethod
    def of(cls, surfaces: Sequence[Surface]) -> Replays:
        return cls(
            read_only={s.command: s.read_only for s in surfaces if s.command},
            in_change=frozenset(s.command for s in surfaces if s.command and s.replay_in_change),
            action_prefixes=tuple(s.action_prefix for s in surfaces if s.action_prefix),
        )

    def in_own_transaction(self, body: dict[str, Any]) -> bool:
        """Commands (and buttons) that record the replay key in the transaction of their
        change (Store.atomic(once=...)): one write on the busiest path, not two."""
        if body.get("command") in self.in_change:
            return True
        actions = body.get("actions") or []
        action_id = str(actions[0].get("action_id", "")) if actions else ""
        return bool(action_id) and action_id.startswith(self.action_prefixes)

    def key(self, body: dict[str, Any]) -> str | None:
        """What makes a slash command or a click one of a kind: a replay carries the same.
        None where a replay could change nothing."""
        command = body.get("command")
        if command and body.get("trigger_id"):
            verbs = self.read_only.get(command, frozenset())
            verb = (str(body.get("text") or "").split() or [""])[0].lower()
            if verbs is None or verb in verbs:
                return None
            return f"command:{body['trigger_id']}"
        actions = body.get("actions") or []
        if body.get("type") == "block_actions" and actions and body.get("trigger_id"):
            return f"click:{body['trigger_id']}:{actions[0].get('action_ts', '')}"
        return None


def route_reactions(app: App, surfaces: Sequence[Surface]) -> None:
    """One listener for reaction events (Bolt runs only the first that matches), routing each
    emoji to the surface that declared it."""
    handlers = {name: handle for s in surfaces for name, handle in s.reactions.items()}

    def on_reaction(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        handle = handlers.get(str(event.get("reaction", "")))
        if handle is not None:
            handle(event, client, context)

    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)


def on_inbox_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """A stored event's listener failed: the inbox tries it again, for longer when the
    failure may pass (Slack down) than when it is a fault of ours."""
    describe(error, log)  # logs it with a reference
    return BoltResponse(status=TRANSIENT if transient(error) else 500, body=failure_text(error))


def on_error(
    error: Exception, body: dict[str, Any], response: BoltResponse | None, respond: Any
) -> BoltResponse | None:
    """The one place listener errors become words for the person who asked. An event has
    nobody to tell: it is answered 503, so Slack sends it again."""
    text = describe(error, log)
    if body.get("type") == "event_callback":
        return BoltResponse(status=503, body="")
    if response is not None and body.get("type") != "block_actions":
        # Not acknowledged yet: the answer to the command itself carries the message.
        payload = json.dumps({"response_type": "ephemeral", "text": text})
        return BoltResponse(status=200, body=payload, headers={"content-type": "application/json"})
    if respond is not None:
        respond(text=text, response_type="ephemeral", replace_original=False)
    return BoltResponse(status=200, body="") if response is not None else None
