"""What the bot does in the local workspace, as text: each message a box with its number
(m4), its buttons numbered for `press`, an answer only one person sees marked so, and Block Kit
as plain lines."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from bot.tools import localslack
from bot.tools.console.stand_ins import NOT_HERE, TEAM
from bot.tools.localslack import LocalSlack, Message

EMOJI = {
    ":red_circle:": "🔴",
    ":large_orange_circle:": "🟠",
    ":large_yellow_circle:": "🟡",
    ":white_circle:": "⚪",
    ":white_check_mark:": "✅",
    ":x:": "❌",
    ":warning:": "⚠️",
    ":rotating_light:": "🚨",
    ":boom:": "💥",
    ":mega:": "📣",
    ":pushpin:": "📌",
    ":memo:": "📝",
    ":alarm_clock:": "⏰",
    ":hourglass:": "⏳",
    ":zzz:": "💤",
    ":page_facing_up:": "📄",
    ":pager:": "📟",
    ":arrows_counterclockwise:": "🔄",
    ":handshake:": "🤝",
    ":large_green_circle:": "🟢",
}


class Output:
    out: TextIO
    slack: LocalSlack
    user: str  # the teammate typing
    channel: str  # where slash commands are typed
    numbered: list[Message]  # every message shown, m1 first
    buttons: list[tuple[dict[str, Any], Message]]  # the last ones shown: what `press N` means
    left_out: list[str]  # the real targets left out, named when a box mentions one
    _output: threading.RLock
    _held: list[tuple[str, dict[str, Any]]] | None
    _updated: dict[str, Message] | None

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @contextmanager
    def _answer_first(self) -> Iterator[None]:
        """Hold what the bot posts while a command is answered, as Slack shows the answer
        to the person at once and the channel posts as they arrive."""
        with self._output:
            self._held = []
        try:
            yield
        finally:
            with self._output:
                held, self._held = self._held or [], None
                for kind, data in held:
                    self._render(kind, data)

    def _show(self, kind: str, data: dict[str, Any]) -> None:
        """Called by the local workspace, on its threads, for everything the bot does."""
        with self._output:
            if self._held is not None:
                self._held.append((kind, data))
            else:
                self._render(kind, data)

    def _render(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "update" and self._updated is not None:
            self._updated[data["message"].ts] = data["message"]
            return
        if kind in ("post", "update"):
            message: Message = data["message"]
            if kind == "post":
                self.numbered.append(message)
            where = self._where(message.channel)
            if message.thread_ts:
                parent = self.slack.find(message.channel, message.thread_ts)
                where += f" · thread of {self._number(parent)}"
            who = self.slack.users.get(message.user, message.user)
            verb = "updated" if kind == "update" else who
            self._box(
                f"{self._number(message)} {where} · {verb}", message.text, message.blocks, message
            )
        elif kind in ("response", "ephemeral"):
            if data.get("text") or data.get("blocks"):
                self._ephemeral(kind, data)
        elif kind == "reaction" and data["user"] == localslack.BOT_USER:
            sign = "+" if data["added"] else "-"
            self._say(f"   opsbot {sign}:{data['name']}: on {self._number(data['message'])}")

    def _where(self, channel: str) -> str:
        if channel in self.slack.users:  # a DM is addressed to the user's id
            return "DM to @" + self.slack.users[channel]
        return self.slack.channel_name(channel)

    def _ephemeral(self, kind: str, data: dict[str, Any]) -> None:
        """An answer only one person sees; its buttons can be pressed like any other."""
        if data.get("response_type") == "in_channel":
            shown = "everyone"
        elif kind == "ephemeral" and data.get("user") != TEAM[self.user]:
            shown = "only @" + self.slack.users.get(data.get("user", ""), "someone")
        else:
            shown = "only you"
        text, blocks = data.get("text", ""), data.get("blocks") or []
        stand_in = Message(self.channel, "0.000000", localslack.BOT_USER, text, blocks)
        self._box(f"opsbot ({shown})", text, blocks, stand_in)

    def _number(self, message: Message | None) -> str:
        return f"m{self.numbered.index(message) + 1}" if message in self.numbered else "m?"

    def _box(
        self, title: str, text: str, blocks: list[dict[str, Any]], message: Message | None
    ) -> None:
        if message is not None and any(b.get("type") == "actions" for b in blocks):
            self.buttons = []  # the buttons last shown are the ones `press N` means
        lines = render_blocks(blocks, self._press_slot, message) if blocks else [text]
        for attached in message.files if message else []:
            content = attached.get("content") or ""
            if "base64" in attached:  # an image: where it is, not its bytes
                size = len(attached["base64"]) * 3 // 4
                lines.append(f"📎 {attached['name']} ({size // 1024} KB, not shown here)")
                continue
            lines.append(f"📎 {attached['name']} ({len(content.splitlines())} lines)")
            lines.extend("  " + line for line in content.splitlines())
        body = "\n".join(
            "│ " + self._readable(line) for chunk in lines for line in chunk.splitlines() or [""]
        )
        self._say(f"┌─ {title}\n{body}\n└─")
        missing = [name for name in self.left_out if name in body]
        if missing:
            self._say(f"   ({' and '.join(missing)}: {NOT_HERE})")

    def _press_slot(self, element: dict[str, Any], message: Message | None) -> int:
        if message is None:
            return 0
        self.buttons.append((element, message))
        return len(self.buttons)

    def _readable(self, text: str) -> str:
        for code, glyph in EMOJI.items():
            text = text.replace(code, glyph)
        text = re.sub(
            r"<@(\w+)(?:\|[^>]*)?>",
            lambda m: "@" + self.slack.users.get(m.group(1), m.group(1)),
            text,
        )
        text = re.sub(
            r"<#(\w+)(?:\|([^>]*))?>",
            lambda m: m.group(2) and f"#{m.group(2)}" or self.slack.channel_name(m.group(1)),
            text,
        )
        text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_blocks(
    blocks: list[dict[str, Any]],
    press_slot: Callable[[dict[str, Any], Message | None], int],
    message: Message | None,
) -> list[str]:
    """Block Kit as plain lines: headers in caps-free bold, fields as `name: value`, buttons
    as [N] choices."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append("▌" + block["text"]["text"])
        elif kind == "section":
            if block.get("text"):
                lines.append(block["text"]["text"])
            for item in block.get("fields") or []:
                name, _, value = item["text"].partition("\n")
                lines.append(f"{name.strip('*')}: {value}")
        elif kind in ("markdown",):
            lines.append(block["text"])
        elif kind == "context":
            lines.append("  " + " ".join(e.get("text", "") for e in block["elements"]))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "actions":
            labels = []
            for element in block["elements"]:
                slot = press_slot(element, message)
                label = element["text"]["text"]
                labels.append(f"[{slot}] {label}" if slot else label)
            lines.append("  ".join(labels))
    return lines
