"""A Slack workspace on loopback: the Web API methods opsbot calls, plus response_url sinks.

`opsbot shell` points the bot's WebClient here and renders what arrives; the tests do the same
and assert on it. It is a real HTTP server, so the bot's code path is the one it takes against
slack.com: the same client, retries, JSON and form encodings. The helpers at the bottom build
requests exactly as Slack sends them to /slack/events (form or JSON body, v0 signature).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import itertools
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bot.tools import init

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


@dataclass
class Fault:
    """A failure Slack can show, switched on in the stand-in: for one method (or all), one
    channel (or all), `times` times (or until cleared). `status` 5xx answers that status;
    `error` answers ok:false with that code; `retry_after` answers 429 with Retry-After;
    `delay` waits before answering (past the client's timeout, it is a timeout)."""

    method: str | None = None
    channel: str | None = None
    status: int = 0
    error: str | None = None
    retry_after: float | None = None
    delay: float | tuple[float, float] = 0.0  # seconds, or a range to draw each answer's from
    times: int | None = None
    hits: int = 0
    with_blocks: bool | None = None  # only calls that carry blocks (True) or none (False)

    def matches(self, method: str, channel: str | None, body: dict[str, Any]) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.with_blocks is not None and self.with_blocks != bool(_blocks(body)):
            return False
        return self.channel is None or self.channel == channel


@dataclass(frozen=True)
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]


Listener = Callable[[str, dict[str, Any]], None]


class LocalSlack:
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

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> LocalSlack:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll (0.02 s): stop() waits for it, 0.5 s by default, in every test.
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> LocalSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_base(self) -> str:
        return self.base + "/api/"

    def response_url(self) -> str:
        return f"{self.base}/respond/{next(self._clock)}"

    # Kept between runs (the shell's workspace lives beside its database) ---------------------

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

    # Faults --------------------------------------------------------------------------------

    def fault(self, **spec: Any) -> Fault:
        """Switch a fault on (see Fault); returns it, to count hits or clear it."""
        if isinstance(spec.get("channel"), str):
            spec["channel"] = self.channel_id(spec["channel"])
        made = Fault(**spec)
        with self._lock:
            self.faults.append(made)
        return made

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
            self.pace_per_second = None

    def pace(self, per_second: float, burst: int = 5) -> None:
        self.pace_per_second, self.pace_burst = per_second, burst

    def _fault_for(self, method: str, body: dict[str, Any]) -> Fault | None:
        channel = body.get("channel") or body.get("channel_id")
        channel = self.channel_id(channel) if isinstance(channel, str) and channel else None
        with self._lock:
            for found in self.faults:
                if found.matches(method, channel, body):
                    found.hits += 1
                    return found
        return None

    def _paced_out(self, method: str, body: dict[str, Any]) -> bool:
        """Over the per-channel pace: Slack answers 429 (ratelimited)."""
        if self.pace_per_second is None or method != "chat.postMessage":
            return False
        channel = self.channel_id(str(body.get("channel", "")))
        now = time.monotonic()
        with self._lock:
            tokens, since = self._buckets.get(channel, (float(self.pace_burst), now))
            tokens = min(float(self.pace_burst), tokens + (now - since) * self.pace_per_second)
            if tokens < 1:
                self._buckets[channel] = (tokens, now)
                return True
            self._buckets[channel] = (tokens - 1, now)
        return False

    def delete(self, message: Message) -> None:
        """A person (or an admin) deletes a message; updating it then fails."""
        with self._lock:
            self.messages.remove(message)

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

    def add_user(self, user_id: str, name: str) -> None:
        self.users[user_id] = name

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

    def methods(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.body for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.methods(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{method}: {len(self.methods(method))} calls, wanted {count}")

    def wait_for_responses(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.responses) >= count:
                return list(self.responses)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.responses)} responses, wanted {count}")

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event:
            self.on_event(kind, data)

    # Web API -----------------------------------------------------------------------------

    def api(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        result: dict[str, Any] = handler(body)
        return result

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.base + "/",
            "team": "local",
            "user": "opsbot",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": "B0OPSBOT",
        }

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        refused = self._refusal(body)
        if refused:
            return {"ok": False, "error": refused}
        # chat.postMessage reference: `not_in_channel` unless the app has chat:write.public
        if not self.is_member(body["channel"]) and "chat:write.public" not in self.scopes:
            return {"ok": False, "error": "not_in_channel"}
        thread_ts = body.get("thread_ts") or None
        if thread_ts and not self.find(self.channel_id(body["channel"]), thread_ts):
            return {"ok": False, "error": "thread_not_found"}
        message = self.post(
            body["channel"],
            BOT_USER,
            body.get("text", ""),
            thread_ts=thread_ts,
            blocks=_blocks(body),
            metadata=_metadata(body),
        )
        return {
            "ok": True,
            "channel": message.channel,
            "ts": message.ts,
            "message": message.as_api(),
        }

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self.find(body.get("channel", ""), body.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != BOT_USER:
            return {"ok": False, "error": "cant_update_message"}
        refused = self._refusal(body)
        if refused:
            return {"ok": False, "error": refused}
        with self._lock:
            message.text = body.get("text", message.text)
            # chat.update reference: "If you don't include this field, the message's previous
            # blocks will be retained. To remove previous blocks, include an empty array."
            if "blocks" in body:
                message.blocks = _blocks(body)
            if "metadata" in body:
                message.metadata = _metadata(body)
        self._emit("update", {"message": message})
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _refusal(self, body: dict[str, Any]) -> str | None:
        """What Slack says no to in a post or an update: an archived channel, text over
        40,000 characters, blocks over Block Kit's limits (chat.postMessage reference;
        Block Kit reference: 50 blocks, section text 3,000, header 150, button 75, ...)."""
        if self.channel_id(str(body.get("channel", ""))) in self.archived:
            return "is_archived"
        if len(str(body.get("text") or "")) > 40_000:
            return "msg_too_long"
        blocks = _blocks(body)
        if len(blocks) > 50 or not all(_valid_block(block) for block in blocks):
            return "invalid_blocks"
        return None

    def _chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        self._emit(
            "ephemeral",
            {"user": body.get("user"), "text": body.get("text", ""), "blocks": _blocks(body)},
        )
        with self._lock:
            return {"ok": True, "message_ts": self._next_ts()}

    def _reactions_get(self, body: dict[str, Any]) -> dict[str, Any]:
        message = self.find(body.get("channel", ""), body.get("timestamp", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "type": "message",
            "channel": message.channel,
            "message": message.as_api(),
        }

    def _reactions_add(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._reaction(body, add=True)

    def _reactions_remove(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._reaction(body, add=False)

    def _reaction(self, body: dict[str, Any], *, add: bool) -> dict[str, Any]:
        message = self.find(body.get("channel", ""), body.get("timestamp", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not self.react(message, BOT_USER, body.get("name", ""), add=add):
            return {"ok": False, "error": "already_reacted" if add else "no_reaction"}
        return {"ok": True}

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages, newest first; metadata only with include_all_metadata. Like
        Slack, it takes a channel id, not a #name."""
        channel = str(body.get("channel", ""))
        if not channel or channel.startswith("#"):
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(body.get("oldest") or 0)
        latest = float(body.get("latest") or "inf")
        inclusive = str(body.get("inclusive", "")).lower() in ("1", "true")
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        with self._lock:
            found = [
                m.as_api(with_metadata)
                for m in self.messages
                if m.channel == channel
                and not m.thread_ts
                and (oldest < float(m.ts) or (inclusive and float(m.ts) == oldest))
                and (float(m.ts) < latest or (inclusive and float(m.ts) == latest))
            ]
        return _page(list(reversed(found)), body, default_limit=100)

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies, oldest first."""
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        if not channel or channel.startswith("#"):
            return {"ok": False, "error": "channel_not_found"}
        if self.find(channel, ts) is None:
            return {"ok": False, "error": "thread_not_found"}
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        oldest = float(body.get("oldest") or 0)
        with self._lock:
            found = [
                m.as_api(with_metadata)
                for m in self.messages
                if m.channel == channel
                and (m.ts == ts or (m.thread_ts == ts and float(m.ts) > oldest))
            ]
        return _page(found, body, default_limit=1000)

    def _conversations_list(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            channels = [
                {"id": cid, "name": name.lstrip("#"), "is_member": cid not in self.outside}
                for name, cid in self.channel_ids.items()
            ]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, body: dict[str, Any]) -> dict[str, Any]:
        if "channels:join" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "channels:join"}
        with self._lock:
            self.outside.discard(self.channel_id(str(body.get("channel", ""))))
        return {"ok": True, "channel": {"id": body.get("channel")}}

    def _apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}

    def _files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("filename") or not str(body.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._clock):08d}"
        with self._lock:
            self.uploads[file_id] = {"id": file_id, "name": body["filename"], "content": None}
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}

    def upload(self, file_id: str, content: bytes) -> bool:
        with self._lock:
            if file_id not in self.uploads:
                return False
            self.uploads[file_id]["content"] = content.decode("utf-8", "replace")
            return True

    def _files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = json.loads(body.get("files") or "[]")
        with self._lock:
            stored = [self.uploads.get(f.get("id", "")) for f in wanted]
        files = [
            {**f, "title": w.get("title") or f["name"]}
            for f, w in zip(stored, wanted, strict=True)
            if f is not None and f["content"] is not None
        ]
        if not wanted or len(files) != len(wanted):
            return {"ok": False, "error": "file_not_found"}
        if body.get("channel_id"):
            self.post(
                body["channel_id"],
                BOT_USER,
                body.get("initial_comment", ""),
                thread_ts=body.get("thread_ts") or None,
                files=files,
            )
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in files]}

    def _usergroups_users_update(self, body: dict[str, Any]) -> dict[str, Any]:
        group, users = body.get("usergroup", ""), body.get("users", "")
        if not group.startswith("S") or not users:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "usergroup": {"id": group, "users": users.split(",")}}

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = body.get("user", "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        name = self.users[user]
        profile = {"display_name": name, "real_name": name.title()}
        return {
            "ok": True,
            "user": {"id": user, "name": name, "real_name": name.title(), "profile": profile},
        }

    def respond(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self.responses.append(payload)
        self._emit("response", payload)


def _page(
    messages: list[dict[str, Any]], body: dict[str, Any], default_limit: int
) -> dict[str, Any]:
    """One page of a history, as Slack pages them: `limit` messages (at most 999) from the
    `cursor`, `has_more`, and the cursor of the next page."""
    limit = min(int(body.get("limit") or default_limit), 999)
    start = int(body.get("cursor") or 0)
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def _metadata(body: dict[str, Any]) -> dict[str, Any] | None:
    metadata = body.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata or "null")
    return metadata if isinstance(metadata, dict) else None


def _text_within(item: Any, limit: int) -> bool:
    return isinstance(item, dict) and 0 < len(str(item.get("text", ""))) <= limit


def _valid_block(block: dict[str, Any]) -> bool:
    """Block Kit's limits for the blocks opsbot sends (slack_sdk's validators agree)."""
    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields") or []
        text_ok = "text" not in block or _text_within(block["text"], 3000)
        fields_ok = len(fields) <= 10 and all(_text_within(f, 2000) for f in fields)
        return text_ok and fields_ok and ("text" in block or bool(fields))
    if kind == "header":
        return _text_within(block.get("text"), 150)
    if kind == "context":
        return 0 < len(block.get("elements") or []) <= 10
    if kind == "actions":
        elements = block.get("elements") or []
        return 0 < len(elements) <= 25 and all(
            _text_within(e.get("text"), 75) and len(str(e.get("value", ""))) <= 2000
            for e in elements
            if e.get("type") == "button"
        )
    if kind == "markdown":
        return 0 < len(str(block.get("text", ""))) <= 12_000
    return kind in {"divider", "image", "rich_text", "input", "file", "video", "table"}


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def _handler_for(slack: LocalSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            # the Date header of every answer, as a Slack whose clock differs would send it
            return super().date_time_string((timestamp or time.time()) + slack.clock_offset)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            body = _decode(raw, self.headers.get("Content-Type", ""))
            if self.path.startswith("/respond/"):
                slack.respond(body)
                return self._send(200, "ok", "text/plain")
            if self.path.startswith("/upload/"):
                stored = slack.upload(self.path.rsplit("/", 1)[1], raw.encode())
                return self._send(200 if stored else 404, "OK" if stored else "no", "text/plain")
            if not self.path.startswith("/api/"):
                return self._send(404, "not found", "text/plain")
            method = self.path[len("/api/") :]
            slack.calls.append(Call(method, body, dict(self.headers)))
            auth = self.headers.get("Authorization", "")
            # Socket Mode's one Web API call is made with the app-level token.
            prefix = "xapp-" if method == "apps.connections.open" else slack.token_prefix
            if not auth.startswith("Bearer " + prefix):
                return self._json(200, {"ok": False, "error": "invalid_auth"})
            if slack.latency:
                time.sleep(slack.latency)
            fault = slack._fault_for(method, body)
            if fault is not None:
                if fault.delay:
                    low, high = (
                        fault.delay if isinstance(fault.delay, tuple) else (fault.delay,) * 2
                    )
                    time.sleep(random.uniform(low, high))
                if fault.retry_after is not None:
                    wait = {"Retry-After": str(int(fault.retry_after))}
                    return self._json(429, {"ok": False, "error": "ratelimited"}, wait)
                if fault.status:
                    return self._json(fault.status, {"ok": False, "error": "internal_error"})
                if fault.error:
                    return self._json(200, {"ok": False, "error": fault.error})
            if slack._paced_out(method, body):
                return self._json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            scopes = {"x-oauth-scopes": ",".join(sorted(slack.scopes))}
            self._json(200, slack.api(method, body), scopes)

        def _json(
            self, code: int, data: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            self._send(code, json.dumps(data), "application/json", headers)

        def _send(
            self, code: int, text: str, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            payload = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            # The caller may be gone (killed mid-request, as in the crash tests).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

    return Handler


def _decode(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        data: dict[str, Any] = json.loads(raw or "{}")
        return data
    return dict(parse_qsl(raw, keep_blank_values=True))


# Requests as Slack sends them to the bot -------------------------------------------------


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def slash_command(
    command: str, text: str, *, user: str, user_name: str, channel: str, response_url: str
) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "local",
            "channel_id": channel,
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0OPSBOT",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{time.time():.6f}.trigger",
        }
    )


def block_action(
    action: dict[str, Any], message: Message, *, user: str, user_name: str, response_url: str
) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": TEAM},
        "api_app_id": "A0OPSBOT",
        "token": "legacy",
        "trigger_id": f"{time.time():.6f}.trigger",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        },
        "team": {"id": TEAM, "domain": "local"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": "incidents"},
        "message": {**message.as_api(), "user": message.user},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def reaction_event(
    message: Message, *, user: str, name: str, added: bool, event_id: str | None = None
) -> str:
    event = {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": name,
        "item_user": message.user,
        "event_ts": f"{time.time():.6f}",
        "item": {"type": "message", "channel": message.channel, "ts": message.ts},
    }
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0OPSBOT",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM,
                    "user_id": BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
    )
