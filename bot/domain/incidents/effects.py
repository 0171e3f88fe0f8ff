"""What an incident owes in Slack, as outbox rows, and how each kind is delivered (what it
owes outside Slack, PagerDuty, Statuspage and the user notice: outside.py).

The enqueue functions are called inside the transaction of the change that owes the effect
(a command, a button, a timer), so the change and its effects commit together. Delivery
(bot/outbox.py) runs them later, from committed state, and retries what fails.

Lanes: everything about one incident in Slack shares that incident's lane in the incidents
channel, so the card is posted before its thread lines and two updates never cross, and no
incident waits for another's; a DM goes in the person's lane. Pages go before every other
row of their channel.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import outbox, posting
from bot.deps import Deps
from bot.domain.incidents.card import render_card
from bot.domain.incidents.room import POSTMORTEM_FILE
from bot.domain.oncall import who
from bot.kinds import Kind
from bot.lanes import slack_lane
from bot.replies import Reply, blocks, mention, section
from bot.store import Effect, Entry, Incident

log = logging.getLogger(__name__)

# chat.update errors after which the card is posted anew (and the incident points at it)
CARD_GONE = {"message_not_found", "channel_not_found", "is_archived", "cant_update_message"}
THREAD_GONE = {"thread_not_found", "message_not_found", "channel_not_found", "is_archived"}


def _lane(deps: Deps, number: int) -> str:
    return slack_lane(deps.settings.incidents_channel, f"INC-{number}")


def _enqueue(
    deps: Deps, kind: str, lane: str, payload: dict[str, Any], number: int, **kw: Any
) -> None:
    deps.store.outbox.enqueue(kind, lane, payload, incident=number, **kw)


# Owing effects (inside the change's transaction) -------------------------------------------


def card(deps: Deps, number: int) -> None:
    """Post or refresh the card. A refresh already waiting covers this one."""
    _enqueue(deps, "incident.card", _lane(deps, number), {}, number, coalesce=True)


def thread(deps: Deps, number: int, reply: Reply) -> None:
    _enqueue(deps, "incident.thread", _lane(deps, number), reply.as_message(), number)


def file(deps: Deps, number: int, filename: str, title: str, content: str) -> None:
    payload = {"filename": filename, "title": title, "content": content}
    _enqueue(deps, "incident.file", _lane(deps, number), payload, number)


def page(deps: Deps, incident: Incident, person: str, text: str) -> None:
    """A page is two rows of its own, independent of the card: a mention in the war-room
    thread (everyone sees who was paged) and a DM (it buzzes). Each falls back to a top-level
    post in the incidents channel if Slack refuses it, or has not taken it in time. Pages go
    before anything else owed in their channel, the most severe incident's first; each
    incident's DMs have a lane of their own, so a P0's page never waits behind a P2's."""
    fallback = [p for p in (person, deps.settings.oncall.escalation) if p]
    base = {"person": person, "text": text, "fallback": fallback}
    urgent = page_priority(deps, incident)
    lane = _lane(deps, incident.number)
    _enqueue(
        deps, "incident.page", lane, {**base, "via": "thread"}, incident.number, priority=urgent
    )
    if person.startswith(("U", "W")):
        dm = slack_lane(person, f"INC-{incident.number}")
        _enqueue(deps, "incident.page", dm, {**base, "via": "dm"}, incident.number, priority=urgent)


def page_priority(deps: Deps, incident: Incident) -> int:
    """Above every other row; the plan's first severity (P0) highest."""
    order = list(deps.settings.severities)
    below = order.index(incident.severity) if incident.severity in order else len(order)
    return outbox.PAGE_PRIORITY + len(order) - below


def remind(deps: Deps, incident: Incident, reminder: Reply) -> None:
    """Only the commander sees it; if Slack cannot show it to them there, it goes in the
    thread with a mention, so a reminder is never silently lost."""
    payload = {**reminder.as_message(), "user": incident.commander}
    _enqueue(deps, "incident.remind", _lane(deps, incident.number), payload, incident.number)


# Delivering them ------------------------------------------------------------------------------


def incident_of(deps: Deps, effect: Effect) -> Incident:
    """The incident a row is owed for, as it is now."""
    assert effect.incident is not None
    incident = deps.store.incidents.incident(effect.incident)
    if incident is None:
        raise LookupError(f"INC-{effect.incident} is gone")
    return incident


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else ""


def _record_card(deps: Deps, effect: Effect, result: dict[str, Any]) -> None:
    """A card posted (the first, or again): the incident points at it, on the timeline."""
    if result.get("announce"):
        assert effect.incident is not None
        entry = Entry(deps.clock(), None, "post", result["announce"], f"card:{result['ts']}")
        deps.store.incidents.set_card(effect.incident, result["channel"], result["ts"], entry)


# Paced: a card's first post counts against Slack's pace in its channel like any post (an
# update does not, but telling them apart would cost a read per row; updates are few).
def _card(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    incident = incident_of(deps, effect)
    message = card_message(deps, incident)
    channel = deps.settings.incidents_channel
    if incident.card_ts and incident.card_channel:
        try:
            posting.update(slack, incident.card_channel, incident.card_ts, message)
            return {"channel": incident.card_channel, "ts": incident.card_ts}
        except SlackApiError as exc:
            if _error(exc) not in CARD_GONE:
                raise
            posted = posting.post(deps, effect, slack, channel, message)
            gone = f"Card posted again in {channel}: the old one could not be updated"
            return {**posted, "announce": f"{gone} ({_error(exc)})"}
    posted = posting.post(deps, effect, slack, channel, message)
    return {**posted, "announce": f"Announced in {channel}"}


def card_message(deps: Deps, incident: Incident) -> dict[str, Any]:
    """The card as a message, for the incidents channel and the incident's own."""
    entries = deps.store.incidents.timeline(incident.number)
    oncall = who(deps.store, deps.settings, deps.clock())
    shown = render_card(incident, deps.settings, oncall=oncall, entries=entries, now=deps.clock())
    # Always send blocks: Slack keeps a message's old blocks when they are left out.
    return {**shown.as_message(), "blocks": shown.blocks}


def _card_place(
    deps: Deps, effect: Effect, slack: WebClient, gone: str | None = None
) -> tuple[str, str]:
    """Where the incident's thread is. A card that is missing (its own row gave up) or gone
    (deleted in Slack) is posted first, so a thread line never waits on a row behind it."""
    incident = incident_of(deps, effect)
    if incident.card_channel and incident.card_ts and gone is None:
        return incident.card_channel, incident.card_ts
    message = card_message(deps, incident)
    posted = posting.send(slack, deps.settings.incidents_channel, message)
    text = f"Card posted again in {deps.settings.incidents_channel}" + (
        f" ({gone})" if gone else ""
    )
    _record_card(deps, effect, {"channel": posted["channel"], "ts": posted["ts"], "announce": text})
    return str(posted["channel"]), str(posted["ts"])


def _place(deps: Deps, effect: Effect, slack: WebClient) -> tuple[str, str | None]:
    """Where the incident's lines go: its own channel while it has one that is not archived
    (top level, no thread), else its thread in the incidents channel."""
    incident = incident_of(deps, effect)
    if incident.room_id and not incident.room_archived_at:
        return incident.room_id, None
    return _card_place(deps, effect, slack)


def _in_thread(
    deps: Deps, effect: Effect, slack: WebClient, message: dict[str, Any]
) -> dict[str, Any]:
    channel, ts = _place(deps, effect, slack)
    try:
        return posting.post(deps, effect, slack, channel, message, thread_ts=ts)
    except SlackApiError as exc:
        if _error(exc) not in THREAD_GONE:
            raise
        # its channel gone or archived: the thread; its thread gone: the card posted again
        gone = _error(exc) if ts is not None else None
        channel, ts = _card_place(deps, effect, slack, gone=gone)
        return posting.post(deps, effect, slack, channel, message, thread_ts=ts)


def _thread(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    return _in_thread(deps, effect, slack, posting.as_message(effect.payload))


def _file(deps: Deps, effect: Effect, slack: WebClient) -> None:
    """Where the incident works: a private channel's post-mortem stays in it. The draft of a
    resolved incident, shared in its channel, is remembered for the channel's bookmark."""
    channel, ts = _place(deps, effect, slack)
    data = effect.payload
    shared = (
        _uploaded(slack, effect, channel, ts, data["filename"]) if effect.attempts > 1 else None
    )
    if shared is None:  # else an earlier try reached Slack before the process died
        shared = slack.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=data["content"],
            filename=data["filename"],
            title=data["title"],
            initial_comment=f":page_facing_up: {data['title']}",
        ).get("file")
    drafted = ts is None and data["filename"].endswith("-postmortem.md")
    if shared and drafted and not incident_of(deps, effect).is_open:  # not one asked for on the way
        deps.store.set_state(POSTMORTEM_FILE.format(effect.incident), str(shared["id"]))


def _uploaded(
    slack: WebClient, effect: Effect, channel: str, ts: str | None, filename: str
) -> dict[str, Any] | None:
    """Files carry no message metadata: an upload is found again by its name in the thread
    (or the channel), shared after the row was written."""
    since = effect.created_at.timestamp() - 5  # clock skew; not an earlier upload
    try:
        found = (
            slack.conversations_replies(channel=channel, ts=ts, limit=1000)
            if ts
            else slack.conversations_history(channel=channel, oldest=f"{since:.6f}", limit=1000)
        )
    except SlackApiError:
        return None
    return next(
        (
            file
            for message in found.get("messages") or []
            if float(message.get("ts", 0)) >= since
            for file in message.get("files") or []
            if file.get("name") == filename
        ),
        None,
    )


def _page_fallback(deps: Deps, effect: Effect, error: str) -> None:
    """Slack kept refusing the page: a top-level post in the incidents channel that
    mentions the person paged and the escalation contact."""
    data = effect.payload
    who_to = " ".join(mention(person) for person in data["fallback"])
    text = (
        f":rotating_light: {who_to} {data['text']} (the page by "
        f"{'DM' if data['via'] == 'dm' else 'thread mention'} failed: {error})"
    )
    posting.enqueue_post(
        deps, deps.settings.incidents_channel, {"text": text}, priority=outbox.PAGE_PRIORITY
    )
    assert effect.incident is not None
    deps.store.incidents.add_entry(
        effect.incident,
        Entry(
            deps.clock(),
            None,
            "page",
            f"Page by {data['via']} failed ({error}); posted in "
            f"{deps.settings.incidents_channel} instead",
            f"page-fallback:{effect.id}",
        ),
    )


def _page(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    data = effect.payload
    if data["via"] == "dm":
        return posting.post(deps, effect, slack, data["person"], {"text": data["text"]})
    return _in_thread(deps, effect, slack, {"text": f"{mention(data['person'])} {data['text']}"})


def _remind(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any] | None:
    channel, ts = _place(deps, effect, slack)
    data = effect.payload
    try:
        slack.chat_postEphemeral(
            channel=channel, user=data["user"], thread_ts=ts, **posting.as_message(data)
        )
        return None
    except SlackApiError:
        text = f"{mention(data['user'])} {data['text']}"
        buttons = (data.get("blocks") or [])[1:]
        message = {"text": text, "blocks": [*blocks(section(text)), *buttons]}
        return posting.post(deps, effect, slack, channel, message, thread_ts=ts)


# How each kind of row this module owes is delivered, for the composition root's table.
KINDS = {
    "incident.card": Kind(_card, "The incident's card", paced=True, record=_record_card),
    "incident.thread": Kind(_thread, "A line in the incident's thread", paced=True),
    "incident.file": Kind(_file, "A file in the incident's thread", paced=True),
    "incident.page": Kind(_page, "A page", paced=True, fallback=_page_fallback),
    "incident.remind": Kind(_remind, "A reminder to the commander"),
}
