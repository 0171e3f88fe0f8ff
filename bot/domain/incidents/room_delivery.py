"""The steps of an incident's own channel (room.py owes them), delivered: each one Slack
effect, safe to try again (a channel found by its name, people already in it passed over,
bookmarks added only when missing, the card adopted by its metadata)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import people, posting
from bot.domain.incidents import effects, service
from bot.domain.incidents.room import (
    ARCHIVE,
    ARCHIVE_ROW,
    BOOKMARKS,
    CARD,
    CREATE,
    INVITE,
    INVITED_KEY,
    NAME_MAX,
    PIN,
    POSTMORTEM_FILE,
    TOPIC,
    let_go,
    open_room,
    room_name,
    topic,
    wanted,
)
from bot.domain.oncall import who
from bot.failures import Dropped, slack_error, transient
from bot.kinds import Kind
from bot.replies import Reply
from bot.store import Effect, Entry, Incident

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

NAME_TRIES = 5  # a channel's name, then -2 ... -5 past archived channels of that name
INVITE_BATCH = 100  # users per conversations.invite (Slack takes up to 1,000)
# conversations.invite refuses a whole call for one of these; alone, they are not errors.
NOT_INVITABLE = {
    "already_in_channel",
    "user_is_inactive",
    "user_not_found",
    "cant_invite_self",
    "cant_invite",
    "user_is_restricted",
}

# Slack's answers that waiting does not change for these steps: a scope the app lacks, a
# token type or a workspace policy that does not allow it.
SETUP = {
    "missing_scope",
    "not_allowed_token_type",
    "restricted_action",
    "method_not_supported_for_channel_type",
}


def _name(deps: Deps, user: str) -> str:
    """The person's display name, asked of Slack once and kept (bot/people.py); their id
    when Slack cannot say."""
    people.learn(deps, [user])
    return deps.store.people.names([user]).get(user) or user


def _incident(deps: Deps, effect: Effect) -> Incident:
    assert effect.incident is not None
    incident = deps.store.incidents.incident(effect.incident)
    if incident is None:
        raise Dropped(f"INC-{effect.incident} is gone")
    return incident


def _room(deps: Deps, effect: Effect) -> tuple[Incident, str]:
    """The incident and its room, for a step after the room's creation."""
    incident = _incident(deps, effect)
    if not incident.room_id:
        why = f" ({incident.room_problem})" if incident.room_problem else ""
        raise Dropped(f"{incident.ref} has no channel{why}")
    return incident, incident.room_id


def _create(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    """Make the channel, or take the one of its name an earlier try made (found by the name:
    `name_taken`). A name held by an archived channel (an older one: Slack does not let a bot
    unarchive it) moves on to `-2`, `-3`, …, the same names in the same order at each try."""
    incident = _incident(deps, effect)
    if incident.room_id or not incident.is_open or not wanted(deps, incident):
        return {}  # made by an earlier row; or resolved, or lowered, before it was made
    base, secret = room_name(incident.number, incident.title), bool(effect.payload["private"])
    for name in _names(base):
        try:
            made = slack.conversations_create(name=name, is_private=secret)
            return {"channel": made["channel"]["id"], "name": name, "private": secret}
        except SlackApiError as exc:
            if slack_error(exc) in SETUP:  # not fixed by waiting: say so now, hold up nothing
                return {"problem": _needs(exc)}
            if slack_error(exc) != "name_taken":
                raise
        found = posting.find_channel(slack, name, archived=True)
        if found is None:  # the incident carries on in its thread
            return {"problem": f"name_taken (#{name} is a channel opsbot cannot see)"}
        if not found.get("is_archived"):
            private = bool(found.get("is_private"))
            return {"channel": found["id"], "name": name, "private": private}
    return {"problem": f"name_taken (#{base} and {NAME_TRIES - 1} more are archived channels)"}


def _names(base: str) -> Iterator[str]:
    yield base
    for n in range(2, NAME_TRIES + 1):
        yield f"{base[: NAME_MAX - 3]}-{n}"


def _needs(exc: SlackApiError) -> str:
    needed = exc.response.get("needed") if exc.response is not None else None
    return slack_error(exc) + (f" (needs {needed})" if needed else "")


def _optional(step: Any) -> Any:
    """A step Slack refuses for want of a scope or a permission is left out (said in the
    log and /healthz's refused rows), not retried for an hour ahead of the incident's lines."""

    def run(deps: Deps, effect: Effect, slack: WebClient) -> Any:
        try:
            return step(deps, effect, slack)
        except SlackApiError as exc:
            if slack_error(exc) in SETUP:
                raise Dropped(f"{effect.kind} left out: Slack said {_needs(exc)}") from exc
            raise

    return run


def _live(step: Any) -> Any:
    """A step Slack refuses because the channel is archived, though opsbot did not archive
    it (a person did, or a crash came between archiving it and recording that): a resolved
    incident's channel is recorded archived; an open one's is let go, and a new one owed."""

    def run(deps: Deps, effect: Effect, slack: WebClient) -> Any:
        try:
            return step(deps, effect, slack)
        except SlackApiError as exc:
            if slack_error(exc) != "is_archived":
                raise
            gone = _incident(deps, effect)
            now = deps.clock()
            with deps.store.atomic():
                if gone.is_open:
                    open_room(deps, let_go(deps, gone, now, "was archived in Slack"))
                elif not gone.room_archived_at:
                    entry = Entry(now, None, "post", f"#{gone.room_name} was archived in Slack")
                    deps.store.rooms.set_archived(gone.number, now, entry)
                effects.card(deps, gone.number)
            raise Dropped(f"{effect.kind} left out: #{gone.room_name} is archived") from exc

    return run


def _record_create(deps: Deps, effect: Effect, result: dict[str, Any]) -> None:
    assert effect.incident is not None
    if "problem" in result:
        _no_room(deps, effect.incident, result["problem"])
        return
    kind = "private channel" if result["private"] else "channel"
    text = f"Working in the {kind} #{result['name']}"
    if result["private"]:
        text += " (Slack never makes a private channel public later)"
    entry = Entry(deps.clock(), None, "post", text, f"room:{result['channel']}")
    deps.store.rooms.set_room(effect.incident, result["channel"], result["name"], entry)
    effects.card(deps, effect.incident)  # the card links to it now


def _room_refused(deps: Deps, effect: Effect, error: str, final: bool) -> None:
    if final:
        assert effect.incident is not None
        _no_room(deps, effect.incident, error)


def _no_room(deps: Deps, number: int, why: str) -> None:
    """Slack would not make the channel: the incident works on in its thread, and says so."""
    deps.store.rooms.set_problem(number, why)
    reply = Reply(
        f":warning: No channel for INC-{number}: Slack said {why}. The incident carries on "
        "in this thread."
    )
    effects.thread(deps, number, reply)


def invitees(deps: Deps, incident: Incident, slack: WebClient) -> list[str]:
    """Whoever declared it, the commander and communications lead, the person on call; for
    the plan's two most
    severe levels the escalation contact; the user groups configured for its severity."""
    oncall = who(deps.store, deps.settings, deps.clock())
    people = [incident.opened_by, incident.commander, incident.comms_lead, oncall]
    if incident.severity in list(deps.settings.severities)[:2]:
        people.append(deps.settings.oncall.escalation)
    for group in deps.settings.incidents.invite_groups.get(incident.severity, []):
        try:
            people += slack.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as exc:
            if transient(exc) and slack_error(exc) not in SETUP:
                raise
            log.warning("user group %s left out of %s's channel: %s", group, incident.ref, exc)
    return list(dict.fromkeys(p for p in people if p and p.startswith(("U", "W"))))


def _invite(deps: Deps, effect: Effect, slack: WebClient) -> None:
    """Everyone who belongs, the first time; after a change of commander or severity, those
    opsbot has not invited before (someone who left is not pulled back in) and whoever
    holds a role now."""
    incident, channel = _room(deps, effect)
    key = INVITED_KEY.format(incident.number)
    invited = set(json.loads(deps.store.state(key) or "[]"))
    roles = {incident.commander, incident.comms_lead}  # who leads it belongs there, always
    people = [p for p in invitees(deps, incident, slack) if p not in invited or p in roles]
    for start in range(0, len(people), INVITE_BATCH):
        _invite_batch(slack, channel, people[start : start + INVITE_BATCH])
    if people:
        deps.store.set_state(key, json.dumps(sorted(invited | set(people))))


def _invite_batch(slack: WebClient, channel: str, users: list[str]) -> None:
    """One call for the batch; one person Slack will not invite (already there, deactivated)
    fails the whole call, so the batch is halved until that one is alone, and let be."""
    try:
        slack.conversations_invite(channel=channel, users=",".join(users))
    except SlackApiError as exc:
        if slack_error(exc) not in NOT_INVITABLE:
            raise
        if len(users) > 1:
            half = len(users) // 2
            _invite_batch(slack, channel, users[:half])
            _invite_batch(slack, channel, users[half:])


def _topic(deps: Deps, effect: Effect, slack: WebClient) -> None:
    """Set only when it changed: Slack posts a line in the channel at every setTopic."""
    incident, channel = _room(deps, effect)
    wanted = topic(deps, incident, _name(deps, incident.commander))
    now = slack.conversations_info(channel=channel)["channel"].get("topic") or {}
    if now.get("value") != wanted:
        slack.conversations_setTopic(channel=channel, topic=wanted)


def bookmarks(deps: Deps, incident: Incident, slack: WebClient) -> Iterator[tuple[str, str]]:
    if incident.card_channel and incident.card_ts:
        link = slack.chat_getPermalink(channel=incident.card_channel, message_ts=incident.card_ts)
        yield f"{incident.ref} in {deps.settings.incidents_channel}", str(link["permalink"])
    yield from deps.settings.incidents.bookmarks.items()
    shared = deps.store.state(POSTMORTEM_FILE.format(incident.number))
    if shared:
        yield "Post-mortem draft", str(slack.files_info(file=shared)["file"]["permalink"])


def _bookmarks(deps: Deps, effect: Effect, slack: WebClient) -> None:
    """What is missing is added (so a retry adds nothing twice); a link that moved (a newer
    post-mortem draft) is changed in place."""
    incident, channel = _room(deps, effect)
    have = {b.get("title"): b for b in slack.bookmarks_list(channel_id=channel)["bookmarks"]}
    for title, link in bookmarks(deps, incident, slack):
        if title not in have:
            slack.bookmarks_add(channel_id=channel, title=title, type="link", link=link)
        elif have[title].get("link") != link:
            slack.bookmarks_edit(channel_id=channel, bookmark_id=have[title]["id"], link=link)


def _card(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    """The working card in the room: posted once (and recorded), then kept current."""
    incident, channel = _room(deps, effect)
    message = effects.card_message(deps, incident)
    if incident.room_card_ts:
        posting.update(slack, channel, incident.room_card_ts, message)
        return {}
    return posting.post(deps, effect, slack, channel, message)


def _record_card(deps: Deps, effect: Effect, result: dict[str, Any]) -> None:
    if result.get("ts"):
        assert effect.incident is not None
        deps.store.rooms.set_room_card(effect.incident, str(result["ts"]))


def _pin(deps: Deps, effect: Effect, slack: WebClient) -> None:
    incident, channel = _room(deps, effect)
    if not incident.room_card_ts:
        raise Dropped(f"{incident.ref}: the channel's card was not posted")
    try:
        slack.pins_add(channel=channel, timestamp=incident.room_card_ts)
    except SlackApiError as exc:
        if slack_error(exc) != "already_pinned":
            raise


def _archive(deps: Deps, effect: Effect, slack: WebClient) -> dict[str, Any]:
    """Archive the room if nobody has written in it for the quiet time since it was
    resolved; else arm the timer again for when it will have been quiet that long."""
    incident, channel = _room(deps, effect)
    quiet = timedelta(hours=deps.settings.incidents.archive_after_hours)
    now = deps.clock()
    if incident.is_open or incident.resolved_at is None:
        return {}
    # quiet since the last resolution too: an archive owed before a reopen waits its turn
    said = last_human_message(slack, channel)
    last = max(said, incident.resolved_at) if said else incident.resolved_at
    if now - last < quiet:
        return {"again": (last + quiet).isoformat()}
    try:
        slack.conversations_archive(channel=channel)
    except SlackApiError as exc:
        if slack_error(exc) != "already_archived":
            raise
    return {"archived": now.isoformat()}


def last_human_message(slack: WebClient, channel: str) -> datetime | None:
    """When a person last wrote in the channel: the newest of its latest 100 messages not a
    bot's, or of a reply in a thread on one of them (opsbot posts no thread replies in an
    incident's channel, so those are people's)."""
    found = slack.conversations_history(channel=channel, limit=100)
    seen: list[float] = []
    for message in found.get("messages") or []:
        if message.get("latest_reply"):
            seen.append(float(message["latest_reply"]))
        if not (message.get("bot_id") or message.get("subtype") or not message.get("user")):
            seen.append(float(message["ts"]))
    return datetime.fromtimestamp(max(seen), UTC) if seen else None


def _record_archive(deps: Deps, effect: Effect, result: dict[str, Any]) -> None:
    assert effect.incident is not None
    if "again" in result:
        again = datetime.fromisoformat(result["again"])
        service.rearm(deps.store, effect.incident, ARCHIVE, again)
    elif "archived" in result:
        at = datetime.fromisoformat(result["archived"])
        entry = Entry(at, None, "post", "Channel archived after a quiet spell", None)
        deps.store.rooms.set_archived(effect.incident, at, entry)
        effects.card(deps, effect.incident)  # it says so


KINDS = {
    CREATE: Kind(
        _create, "The incident's channel", record=_record_create, on_failure=_room_refused
    ),
    INVITE: Kind(_live(_optional(_invite)), "The people invited to the incident's channel"),
    TOPIC: Kind(_live(_optional(_topic)), "The incident channel's topic"),
    BOOKMARKS: Kind(_live(_optional(_bookmarks)), "The incident channel's bookmarks"),
    CARD: Kind(_live(_card), "The card in the incident's channel", paced=True, record=_record_card),
    PIN: Kind(_live(_optional(_pin)), "The card pinned in the incident's channel"),
    ARCHIVE_ROW: Kind(_archive, "The incident's channel archived", record=_record_archive),
}
