"""Channels as an incident bot makes and keeps them: conversations.create, .invite, .setTopic,
.archive, .unarchive and .info, bookmarks.add, .edit and .list, pins.add, chat.getPermalink and
usergroups.users.list. Each rule names the Slack reference it follows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.tools.localslack.server import Server
from bot.tools.localslack.workspace import BOT_USER

# conversations.create reference: "Channel names may only contain lowercase letters,
# numbers, hyphens, and underscores, and must be 80 characters or less."
NAME = re.compile(r"^[a-z0-9_-]+$")
NAME_MAX = 80
TOPIC_MAX = 250  # conversations.setTopic reference: too_long past 250 characters
INVITE_MAX = 1000  # conversations.invite reference: "up to 1000 user IDs"
BOOKMARKS_MAX = 100  # bookmarks.add: a channel holds at most 100


@dataclass
class Room:
    """What the local Slack knows of a channel beyond its messages."""

    name: str
    private: bool = False
    members: set[str] = field(default_factory=set)
    topic: str = ""
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)  # message ts, oldest first


class Channels(Server):
    # State -------------------------------------------------------------------------------

    def room(self, channel: str) -> Room:
        """A channel's membership, topic, bookmarks and pins (made on first use: a channel the
        tests only posted to is public, with the bot in it unless it left)."""
        cid = self.channel_id(channel)
        with self._lock:
            rooms: dict[str, Room] = self.__dict__.setdefault("rooms", {})
            if cid not in rooms:
                name = self.channel_name(cid).lstrip("#")
                rooms[cid] = Room(name, members=set() if cid in self.outside else {BOT_USER})
            return rooms[cid]

    def deactivate(self, user: str) -> None:
        """A person who left the company: invites of them are refused."""
        with self._lock:
            self.__dict__.setdefault("inactive", set()).add(user)

    def add_group(self, group: str, users: list[str]) -> None:
        with self._lock:
            self.__dict__.setdefault("groups", {})[group] = list(users)

    def _known(self, body: dict[str, Any], key: str = "channel") -> str | None:
        cid = str(body.get(key) or "")
        return cid if cid and not cid.startswith("#") and cid in self.channel_ids.values() else None

    def _as_api(self, cid: str) -> dict[str, Any]:
        room = self.room(cid)
        return {
            "id": cid,
            "name": room.name,
            "is_channel": not room.private,
            "is_private": room.private,
            "is_archived": cid in self.archived,
            "is_member": BOT_USER in room.members,
            "topic": {"value": room.topic},
            "num_members": len(room.members),
        }

    # conversations.* ---------------------------------------------------------------------

    def _conversations_create(self, body: dict[str, Any]) -> dict[str, Any]:
        private = str(body.get("is_private", "")).lower() in ("1", "true")
        refused = self._scope("groups:write" if private else "channels:manage")
        if refused:
            return refused
        name = str(body.get("name") or "")
        if not name:
            return {"ok": False, "error": "invalid_name_required"}
        if len(name) > NAME_MAX:
            return {"ok": False, "error": "invalid_name_maxlength"}
        if not NAME.match(name):
            return {"ok": False, "error": "invalid_name_specials"}
        with self._lock:
            if f"#{name}" in self.channel_ids:  # archived ones keep their name too
                return {"ok": False, "error": "name_taken"}
            cid = self.channel_id(f"#{name}")
            self.__dict__.setdefault("rooms", {})[cid] = Room(name, private, {BOT_USER})
        return {"ok": True, "channel": self._as_api(cid)}

    def _conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self._known(body)
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._as_api(cid)}

    def _conversations_invite(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self._known(body)
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        room = self.room(cid)
        users = [u for u in str(body.get("users") or "").split(",") if u]
        if not users:
            return {"ok": False, "error": "no_user"}
        if len(users) > INVITE_MAX:
            return {"ok": False, "error": "too_many_users"}
        if cid in self.archived:
            return {"ok": False, "error": "is_archived"}
        if BOT_USER not in room.members:
            return {"ok": False, "error": "not_in_channel"}
        # One bad user fails the whole call (conversations.invite reference, "errors").
        inactive: set[str] = self.__dict__.get("inactive", set())
        for user in users:
            if user == BOT_USER:
                return {"ok": False, "error": "cant_invite_self"}
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            if user in inactive:
                return {"ok": False, "error": "user_is_inactive"}
            if user in room.members:
                return {"ok": False, "error": "already_in_channel"}
        with self._lock:
            room.members.update(users)
        return {"ok": True, "channel": self._as_api(cid)}

    def _conversations_setTopic(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        cid = self._known(body)
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        topic = str(body.get("topic") or "")
        if len(topic) > TOPIC_MAX:
            return {"ok": False, "error": "too_long"}
        if cid in self.archived:
            return {"ok": False, "error": "is_archived"}
        self.room(cid).topic = topic
        return {"ok": True, "channel": self._as_api(cid)}

    def _conversations_archive(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._set_archived(body, True)

    def _conversations_unarchive(self, body: dict[str, Any]) -> dict[str, Any]:
        # conversations.unarchive reference, "Bug alert": bot tokens (xoxb-) cannot
        # currently be used to unarchive conversations.
        if self.token_prefix == "xoxb-":
            return {"ok": False, "error": "not_allowed_token_type"}
        return self._set_archived(body, False)

    def _set_archived(self, body: dict[str, Any], archived: bool) -> dict[str, Any]:
        """conversations.archive/unarchive: `already_archived`, `not_archived`; a public
        channel needs channels:manage, a private one groups:write."""
        cid = self._known(body)
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        refused = self._scope("groups:write" if self.room(cid).private else "channels:manage")
        if refused:
            return refused
        with self._lock:
            if (cid in self.archived) == archived:
                return {"ok": False, "error": "already_archived" if archived else "not_archived"}
            if archived:
                self.archived.add(cid)
            else:
                self.archived.discard(cid)
        return {"ok": True}

    # bookmarks, pins, permalinks, user groups ---------------------------------------------

    def _bookmarked(self, body: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
        """The channel a bookmarks.add or .edit names, or Slack's refusal."""
        refused = self._scope("bookmarks:write")
        if refused:
            return None, refused
        cid = self._known(body, "channel_id")
        return cid, None if cid else {"ok": False, "error": "channel_not_found"}

    def _bookmarks_add(self, body: dict[str, Any]) -> dict[str, Any]:
        cid, refused = self._bookmarked(body)
        if cid is None:
            return refused or {}
        if not body.get("title") or body.get("type") != "link" or not body.get("link"):
            return {"ok": False, "error": "invalid_arguments"}
        room = self.room(cid)
        with self._lock:
            if len(room.bookmarks) >= BOOKMARKS_MAX:
                return {"ok": False, "error": "too_many_bookmarks"}
            made = {"id": f"Bk{len(room.bookmarks) + 1:08d}", "channel_id": cid}
            made |= {"title": body["title"], "type": "link", "link": body["link"]}
            room.bookmarks.append(made)
        return {"ok": True, "bookmark": made}

    def _bookmarks_edit(self, body: dict[str, Any]) -> dict[str, Any]:
        cid, refused = self._bookmarked(body)
        if cid is None:
            return refused or {}
        room = self.room(cid)
        with self._lock:
            found = [b for b in room.bookmarks if b["id"] == body.get("bookmark_id")]
            if not found:
                return {"ok": False, "error": "not_found"}
            for key in ("title", "link", "emoji"):
                if body.get(key):
                    found[0][key] = body[key]
        return {"ok": True, "bookmark": dict(found[0])}

    def _bookmarks_list(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self._known(body, "channel_id")
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "bookmarks": list(self.room(cid).bookmarks)}

    def _pins_add(self, body: dict[str, Any]) -> dict[str, Any]:
        refused = self._scope("pins:write")
        if refused:
            return refused
        cid, ts = self._known(body), str(body.get("timestamp") or "")
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        if self.find(cid, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        room = self.room(cid)
        with self._lock:
            if ts in room.pins:
                return {"ok": False, "error": "already_pinned"}
            room.pins.append(ts)
        return {"ok": True}

    def _chat_getPermalink(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        cid, ts = self._known(body), str(body.get("message_ts") or "")
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        if self.find(cid, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"{self.base}/archives/{cid}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": cid, "permalink": link}

    def _usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        refused = self._scope("usergroups:read")
        if refused:
            return refused
        groups: dict[str, list[str]] = self.__dict__.get("groups", {})
        group = str(body.get("usergroup") or "")
        if group not in groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(groups[group])}
