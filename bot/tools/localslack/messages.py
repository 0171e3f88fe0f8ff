"""Messages in the local Slack: chat.postMessage, chat.update and chat.postEphemeral, with
Slack's refusals (an archived channel, text or blocks over the limits), and reactions."""

from __future__ import annotations

import json
from typing import Any

from bot.tools.localslack.workspace import BOT_USER, Message, Workspace


class Messages(Workspace):
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

    def delete(self, message: Message) -> None:
        """A person (or an admin) deletes a message; updating it then fails."""
        with self._lock:
            self.messages.remove(message)


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
