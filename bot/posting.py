"""Posting to Slack exactly once, and the outbox's generic Slack kinds.

A post carries message metadata naming its outbox row and this database; a row whose earlier
try may have reached Slack first looks for its post among the messages of that try's few
seconds, so a post that reached Slack just before a crash is adopted instead of posted twice.
A message whose layout Slack refuses goes out as plain text that says so. Updates always
send their blocks (Slack keeps a message's old blocks when they are left out).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.failures import Dropped, failure_text, slack_error, transient
from bot.kinds import Kind
from bot.lanes import slack_lane
from bot.replies import clip
from bot.store import Effect

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

LOOKUP_PAGES = 5  # of conversations.history, looking for an earlier try's post
LOOKUP_PAGE_SIZE = 200
CLOCK_SKEW_SECONDS = 10  # between this host's clock and Slack's message times
METADATA_TYPE = "opsbot_outbox"
CHANNEL_ID_KEY = "slack.channel.{}"  # a configured #name's id, learned once
INCIDENT_METADATA_TYPE = "opsbot_incident"
# Slack refused the message's layout or size: the same words as plain text go through.
LAYOUT_REFUSED = {
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "msg_blocks_too_long",
    "too_many_blocks",
    "invalid_attachments",
}
# An update of a message that is gone (deleted, its channel archived or gone).
MESSAGE_GONE = {"message_not_found", "cant_update_message", "channel_not_found", "is_archived"}
PLAIN_LIMIT = 12_000  # characters of a plain-text stand-in: well inside Slack's 40,000


# Generic Slack kinds ------------------------------------------------------------------------


def metadata(deps: Deps, effect: Effect) -> dict[str, Any]:
    """What a post carries to be found again: its row, and whose row (this database's
    instance), so two opsbots posting in one channel never take each other's messages."""
    payload: dict[str, Any] = {"row": effect.id, "opsbot": deps.store.instance()}
    if effect.incident is not None:
        payload["incident"] = effect.incident
    event_type = INCIDENT_METADATA_TYPE if effect.incident is not None else METADATA_TYPE
    return {"event_type": event_type, "event_payload": payload}


def find_posted(
    deps: Deps, effect: Effect, slack: WebClient, channel: str, thread_ts: str | None = None
) -> dict[str, Any] | None:
    """The message this row already posted, when an earlier try may have reached Slack (it
    was cut short, or Slack's answer left it open). None when no try can have, or there is
    no way to look. Such a try's post can only be among the messages of its own few
    seconds, from its claim until its request could have landed: only those are looked
    through, however busy the channel has been since."""
    if not effect.unsure:
        return None
    found_id = channel_id(deps, slack, channel)
    if found_id is None:
        return None
    mine = metadata(deps, effect)["event_payload"]
    for start, until in _merged(effect.unsure):
        found = _look(slack, effect, found_id, thread_ts, start, until, mine)
        if found is not None:
            return found
    return None


def _merged(windows: tuple[tuple[datetime, datetime], ...]) -> list[tuple[float, float]]:
    """The tries' windows as epoch seconds, widened by the clocks' skew and joined where
    they overlap: a long outage's many tries become a few look-ups."""
    spans: list[tuple[float, float]] = []
    for start, until in sorted(windows):
        span = (start.timestamp() - CLOCK_SKEW_SECONDS, until.timestamp() + CLOCK_SKEW_SECONDS)
        if spans and span[0] <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], span[1]))
        else:
            spans.append(span)
    return spans


def _look(
    slack: WebClient,
    effect: Effect,
    channel: str,
    thread_ts: str | None,
    oldest: float,
    latest: float,
    mine: dict[str, Any],
) -> dict[str, Any] | None:
    """This row's post among the channel's (or the thread's) messages between `oldest` and
    `latest`, a few pages at most."""
    cursor: str | None = None
    window: dict[str, Any] = {"oldest": f"{oldest:.6f}", "latest": f"{latest:.6f}"}
    window["inclusive"] = True
    for _ in range(LOOKUP_PAGES):
        try:
            if thread_ts:
                found = slack.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=LOOKUP_PAGE_SIZE,
                    cursor=cursor,
                    **window,
                )
            else:
                found = slack.conversations_history(
                    channel=channel,
                    include_all_metadata=True,
                    limit=LOOKUP_PAGE_SIZE,
                    cursor=cursor,
                    **window,
                )
        except SlackApiError as exc:
            if transient(exc):  # look again later: posting blind could post it twice
                raise
            log.warning(
                "outbox: cannot look for #%s in %s (%s); posting it",
                effect.id,
                channel,
                failure_text(exc),
            )
            return None
        for message in found.get("messages") or []:
            if thread_ts and message.get("ts") == thread_ts:
                continue  # the thread's parent, listed first by conversations.replies
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("row") == mine["row"] and payload.get("opsbot") == mine["opsbot"]:
                log.info(
                    "outbox: #%s was posted before a restart; adopting %s", effect.id, message["ts"]
                )
                return {"channel": channel, "ts": message["ts"]}
        cursor = (found.get("response_metadata") or {}).get("next_cursor") or None
        if not found.get("has_more") or not cursor:
            return None
    log.warning(
        "outbox: #%s not found in %s pages of %s; posting it", effect.id, LOOKUP_PAGES, channel
    )
    return None


def channel_id(deps: Deps, slack: WebClient, channel: str) -> str | None:
    """The id Slack's history methods need for a configured `#name` (learned from a post, or
    looked up once); None for a DM, whose history a bot cannot read without opening it."""
    if channel.startswith(("U", "W")):
        return None
    if not channel.startswith("#"):
        return channel
    key = CHANNEL_ID_KEY.format(channel)
    known = deps.store.state(key)
    if known:
        return known
    try:
        found = find_channel(slack, channel[1:], archived=False)
    except SlackApiError as exc:
        log.warning("outbox: cannot look up %s (%s)", channel, failure_text(exc))
        return None
    if found is None:
        return None
    deps.store.set_state(key, str(found["id"]))
    return str(found["id"])


def find_channel(slack: WebClient, name: str, *, archived: bool) -> dict[str, Any] | None:
    """The channel named `name` (no #) as conversations.list describes it, public or private
    (the app's own), archived ones too when `archived`: 10 pages of 1,000 at most."""
    cursor = None
    for _ in range(10):
        page = slack.conversations_list(
            types="public_channel,private_channel",
            limit=1000,
            cursor=cursor,
            exclude_archived=not archived,
        )
        for found in page.get("channels") or []:
            if found.get("name") == name:
                return dict(found)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return None


def as_plain(message: dict[str, Any], exc: SlackApiError) -> dict[str, Any] | None:
    """The message as plain text, when Slack refused its layout or size; None when the
    refusal was about something else (or it was plain already)."""
    code = slack_error(exc)
    text = str(message.get("text", ""))
    if code not in LAYOUT_REFUSED or (not message.get("blocks") and len(text) <= PLAIN_LIMIT):
        return None
    log.warning("outbox: Slack refused a message's layout (%s); posting it as plain text", code)
    note = f"\n_(Posted as plain text: Slack refused its layout ({code}).)_"
    return {"text": clip(text, PLAIN_LIMIT) + note}


def post(
    deps: Deps,
    effect: Effect,
    slack: WebClient,
    channel: str,
    message: dict[str, Any],
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """chat.postMessage exactly once: adopt an earlier try's message, else post (as plain
    text when Slack refuses the layout)."""
    found = find_posted(deps, effect, slack, channel, thread_ts)
    if found:
        return found
    posted = send(slack, channel, message, thread_ts, metadata(deps, effect))
    if channel.startswith("#") and posted.get("channel"):  # learn the id for later look-ups
        key = CHANNEL_ID_KEY.format(channel)
        if deps.store.state(key) != posted["channel"]:
            deps.store.set_state(key, str(posted["channel"]))
    return {"channel": posted["channel"], "ts": posted["ts"]}


def send(
    slack: WebClient,
    channel: str,
    message: dict[str, Any],
    thread_ts: str | None = None,
    tag: dict[str, Any] | None = None,
) -> Any:
    """chat.postMessage, as plain text when Slack refuses the layout."""
    try:
        return slack.chat_postMessage(channel=channel, thread_ts=thread_ts, metadata=tag, **message)
    except SlackApiError as exc:
        plain = as_plain(message, exc)
        if plain is None:
            raise
        return slack.chat_postMessage(channel=channel, thread_ts=thread_ts, metadata=tag, **plain)


def update(slack: WebClient, channel: str, ts: str, message: dict[str, Any]) -> None:
    """chat.update, always with blocks (Slack keeps a message's old blocks when they are left
    out: [] clears them), as plain text when Slack refuses the layout."""
    full = {"text": message.get("text", ""), "blocks": message.get("blocks") or []}
    try:
        slack.chat_update(channel=channel, ts=ts, **full)
    except SlackApiError as exc:
        plain = as_plain(full, exc)
        if plain is None:
            raise
        slack.chat_update(channel=channel, ts=ts, blocks=[], **plain)


def as_message(payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"text": payload.get("text", "")}
    if payload.get("blocks"):
        message["blocks"] = payload["blocks"]
    return message


def _post(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    data = effect.payload
    return post(deps, effect, slack, data["channel"], as_message(data), data.get("thread_ts"))


def _update(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    data = effect.payload
    try:
        update(slack, data["channel"], data["ts"], data)
    except SlackApiError as exc:
        if slack_error(exc) in MESSAGE_GONE:  # someone deleted it: nothing left to update
            raise Dropped(f"the message is gone (Slack {slack_error(exc)})") from exc
        raise
    return {"channel": data["channel"], "ts": data["ts"]}


def _usergroup(deps: Deps, effect: Effect, slack: WebClient) -> None:
    slack.usergroups_users_update(
        usergroup=effect.payload["usergroup"], users=effect.payload["users"]
    )


def enqueue_post(
    deps: Deps,
    channel: str,
    message: dict[str, Any],
    thread_ts: str | None = None,
    *,
    priority: int = 0,
) -> int | None:
    return deps.store.outbox.enqueue(
        "slack.post",
        slack_lane(channel),
        {"channel": channel, "thread_ts": thread_ts, **message},
        priority=priority,
    )


def enqueue_update(deps: Deps, channel: str, ts: str, message: dict[str, Any]) -> None:
    deps.store.outbox.enqueue(
        "slack.update", slack_lane(channel), {"channel": channel, "ts": ts, **message}
    )


# The generic kinds, for the composition root's table of every kind (bot/wiring.py).
KINDS = {
    "slack.post": Kind(_post, "A Slack post", paced=True),
    "slack.update": Kind(_update, "A Slack message update"),
    "slack.usergroup": Kind(_usergroup, "A user group update"),
}
