"""An incident's own Slack channel (its room): made, or found again by its name; the
people invited; its topic and bookmarks kept; the working card posted and pinned there;
archived once it has been quiet after the resolution. This file says which incidents get
one and owes its steps; room_delivery.py delivers them.

Every step is an outbox row of its own in the incident's lane (bot/domain/incidents/
effects.py), one Slack effect each, so a crash, a 429 or a refusal never loses or doubles a
channel: a channel whose creation was cut short before it was recorded is found again by
its name (`name_taken`). A channel Slack refuses to make leaves the incident working in its
thread of the incidents channel, with a line saying why.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.domain.incidents import service
from bot.lanes import slack_lane
from bot.store import Entry, Incident

if TYPE_CHECKING:
    from bot.deps import Deps

NAME_MAX = 80  # Slack's limit for a channel name
TOPIC_MAX = 250  # and for a topic
ARCHIVE = "room_archive"  # the timer that archives a quiet room
# Its steps: outbox rows in the incident's lane, delivered by room_delivery.py
CREATE, INVITE, TOPIC = "incident.room", "incident.room.invite", "incident.room.topic"
BOOKMARKS, CARD, PIN = "incident.room.bookmarks", "incident.room.card", "incident.room.pin"
ARCHIVE_ROW = "incident.room.archive"
STATUS_WORDS = {"open": "Investigating", "mitigated": "Mitigated", "resolved": "Resolved"}


# Which incidents get one, and its name ----------------------------------------------------


def wanted(deps: Deps, incident: Incident) -> bool:
    """`[incidents] channel`: "always", "P0-P1" (the plan's two most severe levels) or
    "never"."""
    policy = deps.settings.incidents.channel
    if policy == "always":
        return True
    return policy == "P0-P1" and incident.severity in list(deps.settings.severities)[:2]


PRIVATE_KEY = "room.private.{}"  # asked for at declaration, for when the channel comes
INVITED_KEY = "room.invited.{}"  # who opsbot has invited: a later invite adds only newcomers
POSTMORTEM_FILE = "room.postmortem_file.{}"  # the resolution's draft shared there: bookmarked


def private(deps: Deps, incident: Incident, asked: bool = False) -> bool:
    if asked or deps.store.state(PRIVATE_KEY.format(incident.number)) == "yes":
        return True
    return incident.severity in deps.settings.incidents.private_severities


def room_name(number: int, title: str) -> str:
    """`inc-<n>-<slug>`: lowercase letters, digits, `-` and `_`, at most 80 characters; a long
    title's slug is cut, never the number."""
    head = f"inc-{number}"
    slug = re.sub(r"[^a-z0-9_]+", "-", title.lower()).strip("-_")
    if not slug:
        return head
    return f"{head}-{slug}"[:NAME_MAX].rstrip("-_")


def topic(deps: Deps, incident: Incident, lead: str) -> str:
    """`P1 · Investigating · Commander @alice`: Slack shows a topic as typed (no mentions)."""
    status = STATUS_WORDS.get(incident.status, incident.status.title())
    return f"{incident.severity} · {status} · Commander @{lead}"[:TOPIC_MAX]


# Owing its steps (inside the change's transaction) ---------------------------------------


def _lane(deps: Deps, number: int) -> str:
    return slack_lane(deps.settings.incidents_channel, f"INC-{number}")


def _owe(
    deps: Deps, kind: str, number: int, payload: dict[str, Any] | None = None, fresh: bool = False
) -> None:
    """`fresh`: a row of its own, never folded into one already waiting (which may come
    before the channel it needs, and be dropped)."""
    # each delivered from the incident as it is then: one waiting covers later changes
    coalesce = kind in (CARD, TOPIC, INVITE) and not fresh
    deps.store.outbox.enqueue(
        kind, _lane(deps, number), payload or {}, incident=number, coalesce=coalesce
    )


def open_room(deps: Deps, incident: Incident, *, asked_private: bool = False) -> bool:
    """Owe the room and its setup, when the incident wants one and has none (nor one on its
    way); True when owed."""
    if not incident.is_open or not wanted(deps, incident):
        return False
    if incident.room_id or incident.room_problem:
        return False
    if deps.store.outbox.has_pending(incident.number, CREATE):
        return False
    _owe(deps, CREATE, incident.number, {"private": private(deps, incident, asked_private)})
    for kind in (INVITE, TOPIC, BOOKMARKS, CARD, PIN):
        _owe(deps, kind, incident.number, fresh=True)  # after the creation, in the lane
    return True


def follow(
    deps: Deps,
    incident: Incident,
    *,
    resolved: bool = False,
    private: bool = False,
    newcomers: bool = False,
) -> None:
    """After a change: the room made when the incident now wants one (opened, or raised to
    a severity that has one), else kept current; on resolution, its archive timer armed.
    `private`: asked for at declaration, and remembered for a channel that comes later.
    `newcomers`: its commander or severity changed, so someone new may belong in it."""
    if private:
        deps.store.set_state(PRIVATE_KEY.format(incident.number), "yes")
    if not open_room(deps, incident, asked_private=private):
        refresh(deps, incident)
        if newcomers and incident.is_open and _has_room(deps, incident):
            _owe(deps, INVITE, incident.number)
    if resolved:
        after_resolve(deps, incident, deps.clock())


def refresh(deps: Deps, incident: Incident) -> None:
    """The room's working card and topic follow the incident (coalesced: one waiting row
    covers later changes); an archived room is left as it is."""
    if _has_room(deps, incident):
        _owe(deps, CARD, incident.number)
        _owe(deps, TOPIC, incident.number)


def _has_room(deps: Deps, incident: Incident) -> bool:
    """A room that is not archived, or one on its way: owed for an open incident that still
    wants one (a creation owed for one resolved or lowered since comes to nothing). Most
    incidents want none, and are answered without a query."""
    if incident.room_id:
        return not incident.room_archived_at
    if not incident.is_open or not wanted(deps, incident):
        return False
    return deps.store.outbox.has_pending(incident.number, CREATE)


def bookmark_files(deps: Deps, incident: Incident) -> None:
    """After files it owes (the post-mortem): its bookmarks again, to add the draft's link
    once it is shared (the row comes after the file's in the incident's lane)."""
    if _has_room(deps, incident):
        _owe(deps, BOOKMARKS, incident.number)


def after_resolve(deps: Deps, incident: Incident, now: datetime) -> None:
    """Archive the room once it has been quiet for `[incidents] archive_after_hours`."""
    if incident.room_id and not incident.room_archived_at:  # one owed is not made now
        hours = deps.settings.incidents.archive_after_hours
        service.rearm(deps.store, incident.number, ARCHIVE, now + timedelta(hours=hours))


def reopened(deps: Deps, incident: Incident, now: datetime) -> Incident:
    """Reopened: the archive timer off. An archived room is let go, since Slack lets no bot
    unarchive a channel: a new one is made (its name gets `-2`), everyone invited again."""
    service.rearm(deps.store, incident.number, ARCHIVE, None)
    if not (incident.room_id and incident.room_archived_at):
        return incident
    return let_go(deps, incident, now, "stays archived (Slack lets no bot unarchive a channel)")


def let_go(deps: Deps, incident: Incident, now: datetime, why: str) -> Incident:
    """Its archived room forgotten, so the open incident can have a new one (owed by the
    caller, through follow or open_room); the timeline says which."""
    new = wanted(deps, incident) and incident.is_open
    text = f"#{incident.room_name} {why}" + ("; a new channel is made" if new else "")
    deps.store.rooms.forget(incident.number, Entry(now, None, "post", text))
    for key in (INVITED_KEY, POSTMORTEM_FILE):  # everyone to invite again; no draft there
        deps.store.set_state(key.format(incident.number), "")
    return replace(incident, room_id=None, room_name=None, room_card_ts=None, room_archived_at=None)


def archive_if_quiet(deps: Deps, incident: Incident, now: datetime) -> str:
    """The archive timer: owe the archive (its delivery checks the room is still quiet)."""
    service.rearm(deps.store, incident.number, ARCHIVE, None)
    if not incident.room_id or incident.room_archived_at or incident.is_open:
        return f"{incident.ref}: no channel to archive"
    _owe(deps, ARCHIVE_ROW, incident.number)
    return f"{incident.ref}: channel archived if still quiet"
