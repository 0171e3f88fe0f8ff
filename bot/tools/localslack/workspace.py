"""The local workspace's state: channels, messages, people and their reactions, kept between
runs of the shell. The Web API methods are answered by the classes built on this one."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.tools import init

if TYPE_CHECKING:
    from bot.tools.localslack.server import Call, Fault

BOT_USER = "U0OPSBOT"
TEAM = "T0LOCAL"
SCOPES = init.SCOPES  # what the manifest asks for: a new install grants exactly these


def escape(text: str) -> str:
    """What Slack does to text a person types before any app sees it: `&`, `<` and `>`
    become entities (Slack's "Formatting text" reference, "Escaping text"). References
    (`<@U…>`) are made after, by Slack itself."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None

    def as_api(self, with_metadata: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.files:
            data["files"] = [{k: v for k, v in f.items() if k != "content"} for f in self.files]
        if self.reactions:
            data["reactions"] = [
                {"name": n, "users": u, "count": len(u)} for n, u in self.reactions.items()
            ]
        if with_metadata and self.metadata:
            data["metadata"] = self.metadata
        return data


Listener = Callable[[str, dict[str, Any]], None]


class Workspace:
    def __init__(
        self,
        *,
        token_prefix: str = "xoxb-",
        on_event: Listener | None = None,
        scopes: tuple[str, ...] = SCOPES,
    ) -> None:
        self.token_prefix = token_prefix
        self.scopes = set(scopes)
        self.outside: set[str] = set()  # channel ids the bot is not a member of
        self.archived: set[str] = set()  # channel ids archived: nothing can be posted there
        self.on_event = on_event
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []
        self.messages: list[Message] = []
        self.channel_ids: dict[str, str] = {}
        self.users: dict[str, str] = {BOT_USER: "opsbot"}
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.uploads: dict[str, dict[str, Any]] = {}  # file id -> name, content
        self.faults: list[Fault] = []
        # Slack's pace for chat.postMessage: about one per second per channel, short bursts.
        # Off by default (tests of other things post fast); `pace(1, 5)` switches it on.
        self.pace_per_second: float | None = None
        self.pace_burst = 5
        self._buckets: dict[str, tuple[float, float]] = {}
        self.latency = 0.0  # every Web API answer waits this long (Slack is never instant)
        self.clock_offset = 0.0  # seconds Slack's clock (its Date header) is off from ours
        self._lock = threading.RLock()
        self._clock = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._last_us = 0

    # Kept between runs (the shell's workspace lives beside its database) ---------------------

    def _scope(self, *needed: str) -> dict[str, Any] | None:
        """`missing_scope` (with what is `needed`) unless the token has one of them."""
        if any(scope in self.scopes for scope in needed):
            return None
        return {"ok": False, "error": "missing_scope", "needed": ",".join(needed)}

    def save(self, path: Path) -> None:
        """Messages, channels and uploads, written atomically (a crash keeps the last copy)."""
        with self._lock:
            state = {
                "messages": [dataclasses.asdict(m) for m in self.messages],
                "channel_ids": self.channel_ids,
                "uploads": self.uploads,
                "last_us": self._last_us,
            }
        part = path.with_name(path.name + ".part")
        part.write_text(json.dumps(state))
        part.replace(path)

    def load(self, path: Path) -> None:
        if not path.exists():
            return
        state = json.loads(path.read_text())
        with self._lock:
            self.messages = [Message(**m) for m in state["messages"]]
            self.channel_ids = state["channel_ids"]
            self.uploads = state["uploads"]
            self._last_us = state["last_us"]

    # Workspace state ---------------------------------------------------------------------

    def channel_id(self, name_or_id: str) -> str:
        """Channels are addressed by id; a `#name` gets a stable id the first time it is used."""
        with self._lock:
            if not name_or_id.startswith("#"):
                return name_or_id
            if name_or_id not in self.channel_ids:
                self.channel_ids[name_or_id] = f"C{len(self.channel_ids) + 1:08d}"
            return self.channel_ids[name_or_id]

    def channel_name(self, channel_id: str) -> str:
        for name, cid in self.channel_ids.items():
            if cid == channel_id:
                return name
        return channel_id

    def leave(self, channel: str) -> None:
        """The bot is removed from (or was never invited to) a channel."""
        with self._lock:
            self.outside.add(self.channel_id(channel))

    def archive(self, channel: str) -> None:
        """The channel is archived: posts and updates in it are refused (`is_archived`)."""
        with self._lock:
            self.archived.add(self.channel_id(channel))

    def is_member(self, channel: str) -> bool:
        """Slack sends an app events (reactions too) only from conversations it is in (Events
        API docs: an app must be a member of the conversation to receive its events)."""
        return self.channel_id(channel) not in self.outside

    def add_user(self, user_id: str, name: str, tz: str = "Europe/London") -> None:
        """A person, with the time zone users.info gives (Slack's default for a new account
        is the workspace's; the local one's is London)."""
        self.users[user_id] = name
        self.__dict__.setdefault("zones", {})[user_id] = tz

    def post(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        files: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Message:
        """A message as if a person (or the bot) posted it."""
        with self._lock:
            ts = self._next_ts()
            message = Message(
                self.channel_id(channel),
                ts,
                user,
                text,
                blocks or [],
                thread_ts,
                files=files or [],
                metadata=metadata,
            )
            self.messages.append(message)
        self._emit("post", {"message": message})
        return message

    def _next_ts(self) -> str:
        """Slack's ts: the posting time in microseconds, unique within the workspace."""
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def find(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def history(self, channel: str) -> list[Message]:
        cid = self.channel_id(channel)
        with self._lock:
            return [m for m in self.messages if m.channel == cid]

    def react(self, message: Message, user: str, name: str, *, add: bool = True) -> bool:
        with self._lock:
            users = message.reactions.setdefault(name, [])
            if add == (user in users):
                return False
            if add:
                users.append(user)
            else:
                users.remove(user)
                if not users:
                    del message.reactions[name]
        self._emit("reaction", {"message": message, "user": user, "name": name, "added": add})
        return True

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event:
            self.on_event(kind, data)
