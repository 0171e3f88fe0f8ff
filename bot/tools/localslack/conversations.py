"""Conversations in the local Slack: history and replies (paged as Slack pages them), the
list of channels, and joining one."""

from __future__ import annotations

from typing import Any

from bot.tools.localslack.workspace import BOT_USER, Workspace


class Conversations(Workspace):
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
            replies: dict[str, list[Any]] = {}
            for m in self.messages:
                if m.channel == channel and m.thread_ts and m.thread_ts != m.ts:
                    replies.setdefault(m.thread_ts, []).append(m)
            found = [
                m.as_api(with_metadata) | _thread_of(m, replies.get(m.ts, []))
                for m in self.messages
                if m.channel == channel
                and not m.thread_ts
                and (oldest < float(m.ts) or (inclusive and float(m.ts) == oldest))
                and (float(m.ts) < latest or (inclusive and float(m.ts) == latest))
            ]
        return _page(list(reversed(found)), body, default_limit=100)

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies between `oldest` and `latest` (each
        bound left out unless `inclusive`; conversations.replies reference), oldest first."""
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        if not channel or channel.startswith("#"):
            return {"ok": False, "error": "channel_not_found"}
        if self.find(channel, ts) is None:
            return {"ok": False, "error": "thread_not_found"}
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        oldest = float(body.get("oldest") or 0)
        latest = float(body.get("latest") or "inf")
        inclusive = str(body.get("inclusive", "")).lower() in ("1", "true")

        def between(at: float) -> bool:
            inside = oldest < at < latest
            return inside or (inclusive and at in (oldest, latest))

        with self._lock:
            found = [
                m.as_api(with_metadata)
                for m in self.messages
                if m.channel == channel
                and (m.ts == ts or (m.thread_ts == ts and between(float(m.ts))))
            ]
        return _page(found, body, default_limit=1000)

    def _conversations_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """Every channel of the `types` asked for (public only by default), archived ones
        too unless `exclude_archived`; private ones only when the app is in them
        (conversations.list reference)."""
        types = str(body.get("types") or "public_channel").split(",")
        skip_archived = str(body.get("exclude_archived", "")).lower() in ("1", "true")
        rooms: dict[str, Any] = self.__dict__.get("rooms", {})
        with self._lock:
            channels = []
            for name, cid in self.channel_ids.items():
                private = bool(rooms[cid].private) if cid in rooms else False
                if ("private_channel" if private else "public_channel") not in types:
                    continue
                if private and BOT_USER not in rooms[cid].members:
                    continue
                if skip_archived and cid in self.archived:
                    continue
                channels.append(
                    {
                        "id": cid,
                        "name": name.lstrip("#"),
                        "is_member": cid not in self.outside,
                        "is_private": private,
                        "is_archived": cid in self.archived,
                    }
                )
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, body: dict[str, Any]) -> dict[str, Any]:
        if "channels:join" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "channels:join"}
        with self._lock:
            self.outside.discard(self.channel_id(str(body.get("channel", ""))))
        return {"ok": True, "channel": {"id": body.get("channel")}}


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


def _thread_of(parent: Any, replies: list[Any]) -> dict[str, Any]:
    """What conversations.history says of a thread on a message: its count, when it was
    last replied to, and who replied (the replies themselves are conversations.replies')."""
    if not replies:
        return {}
    return {
        "thread_ts": parent.ts,
        "reply_count": len(replies),
        "latest_reply": max(replies, key=lambda r: float(r.ts)).ts,
        "reply_users": list(dict.fromkeys(r.user for r in replies)),
    }
