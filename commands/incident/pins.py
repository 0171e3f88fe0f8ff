""":pushpin: on a message in an incident's thread, or in its own channel, puts it on the
timeline at its own time; removing the reaction takes it off. The bot confirms with :memo:."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.replies import clip
from bot.store import Entry, Incident

PIN = "pushpin"
PIN_CONFIRM = "memo"


def on_reaction(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
    if event.get("reaction") != PIN or event.get("item", {}).get("type") != "message":
        return
    deps: Deps = context["deps"]
    channel, ts = event["item"]["channel"], event["item"]["ts"]
    message = _message(client, channel, ts)
    incident = _incident_of(deps, client, channel, message)
    if incident is None or message.get("user") == context.get("bot_user_id"):
        return  # not an incident's thread, or the bot's own post: already on the timeline
    # One entry per message, however often it is pinned or the event delivered.
    source = f"pin:{channel}:{ts}"
    if event["type"] == "reaction_removed":
        if not _still_pinned(message) and deps.store.incidents.remove_entry(
            incident.number, source
        ):
            _unconfirm(client, channel, ts)
        return
    at = datetime.fromtimestamp(float(ts), UTC)
    text = clip(message.get("text") or "(no text)", 500)
    if deps.store.incidents.add_entry(
        incident.number, Entry(at, message.get("user"), "pin", text, source)
    ):
        client.reactions_add(channel=channel, timestamp=ts, name=PIN_CONFIRM)


def _message(client: WebClient, channel: str, ts: str) -> dict[str, Any]:
    found = client.reactions_get(channel=channel, timestamp=ts, full=True)
    message: dict[str, Any] = found.get("message") or {}
    return message


def _still_pinned(message: dict[str, Any]) -> bool:
    """Someone else's :pushpin: is still on it: the entry stays."""
    return any(
        r.get("name") == PIN and r.get("count", 0) > 0 for r in message.get("reactions") or []
    )


def _incident_of(
    deps: Deps, client: WebClient, channel: str, message: dict[str, Any]
) -> Incident | None:
    """The incident whose own channel this is (any message there), or whose thread in the
    incidents channel the message is in."""
    here = deps.store.rooms.by_room(channel)
    if here is not None:
        return here
    root = message.get("thread_ts")
    if not root or root == message.get("ts"):  # not a reply in a thread (the card itself)
        return None
    return deps.store.incidents.incident_by_card(channel, root) or _card_not_recorded(
        deps, client, channel, root
    )


def _card_not_recorded(deps: Deps, client: WebClient, channel: str, ts: str) -> Incident | None:
    """A card whose post the store has not recorded yet (posted a moment ago, or just before
    a crash and not adopted yet): the card's own metadata names its incident."""
    found = client.conversations_history(
        channel=channel, latest=ts, inclusive=True, limit=1, include_all_metadata=True
    )
    for root in found.get("messages") or []:
        payload = (root.get("metadata") or {}).get("event_payload") or {}
        ours = payload.get("opsbot") == deps.store.instance()
        if root.get("ts") == ts and ours and isinstance(payload.get("incident"), int):
            return deps.store.incidents.incident(payload["incident"])
    return None


def _unconfirm(client: WebClient, channel: str, ts: str) -> None:
    try:
        client.reactions_remove(channel=channel, timestamp=ts, name=PIN_CONFIRM)
    except SlackApiError as exc:
        if exc.response.get("error") != "no_reaction":  # already gone is fine
            raise
