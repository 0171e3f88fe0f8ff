"""What commands return (Reply), the error people are meant to read (UserError), Block Kit helpers.

The helpers build Block Kit as plain dicts, clipped to Slack's limits (header 150 chars,
section 3000, button 75, ...) so Slack never answers `invalid_blocks` at 3 a.m. They used
slack_sdk's models, whose validation cost 2-3 ms a card on the path that competes with acks;
tests/test_replies.py runs every helper's output through those models instead.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from pymongo.errors import ConnectionFailure
from slack_sdk.errors import SlackApiError

from bot.store import Replayed, StoreBusy, StoreUnwritable

SECTION_LIMIT = 3000
Block = dict[str, Any]


class UserError(Exception):
    """Bad input or an illegal request: shown to the person, nothing was changed."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def text(self) -> str:
        return f":warning: {self.message}" + (f"\n{self.usage}" if self.usage else "")


def describe(error: Exception, log: logging.Logger) -> str:
    """What a person is told about an error: usage for their mistakes, Slack's error code,
    or a short reference that finds the stack trace in the log. Never the exception text."""
    if isinstance(error, UserError):
        return error.text()
    if isinstance(error, Replayed):
        log.warning("replayed request ignored")
        return ":information_source: That request was already handled; nothing more was done."
    if isinstance(error, StoreBusy):
        log.warning("store busy past its timeout")
        return ":hourglass: opsbot's database is busy; nothing was changed. Try again."
    if isinstance(error, StoreUnwritable):
        log.error("store cannot be written: %s", error.reason)
        return (
            f":x: opsbot cannot write its database ({error.reason}: disk full?); "
            "nothing was changed. `/healthz` says why until it can write again."
        )
    if isinstance(error, ConnectionFailure):
        log.warning("MongoDB unreachable: %s", type(error).__name__)
        return (
            ":warning: MongoDB did not answer, so nothing was read or changed. "
            "`/health mongodb` shows the connection."
        )
    if isinstance(error, SlackApiError):
        code = error.response.get("error", "unknown") if error.response else "unknown"
        log.warning("Slack API error: %s", code)
        return f":warning: Slack refused the request ({code})."
    ref = secrets.token_hex(2)
    log.error("Unhandled error (ref %s)", ref, exc_info=error)
    return f":boom: Something went wrong (ref {ref})."


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    public: bool = False

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"text": self.text}
        if self.blocks:
            message["blocks"] = self.blocks
        return message

    def as_response(self) -> dict[str, Any]:
        return {**self.as_message(), "response_type": "in_channel" if self.public else "ephemeral"}


def blocks(*items: Block | None) -> list[Block]:
    return [item for item in items if item is not None]


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def header(text: str) -> Block:
    return {"type": "header", "text": _plain(text, 150)}


def section(text: str, fields: Sequence[str] = ()) -> Block:
    block: Block = {"type": "section"}
    if text:
        block["text"] = _mrkdwn(text, SECTION_LIMIT)
    if fields:
        block["fields"] = [_mrkdwn(f, 2000) for f in list(fields)[:10]]
    return block


def markdown(text: str) -> Block:
    return {"type": "markdown", "text": clip(text, 12_000)}


def context(*parts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(p, 2000) for p in parts if p][:10]}


def divider() -> Block:
    return {"type": "divider"}


def buttons(items: Iterable[tuple[str, str, str, str | None]], block_id: str) -> Block:
    """Buttons from (action_id, label, value, style) tuples."""
    elements = []
    for action_id, label, value, style in list(items)[:25]:
        button: Block = {
            "type": "button",
            "action_id": action_id,
            "text": _plain(label, 75),
            "value": clip(value, 2000),
        }
        if style:
            button["style"] = style
        elements.append(button)
    return {"type": "actions", "block_id": block_id, "elements": elements}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(user: str | None) -> str:
    if not user:
        return "nobody"
    return f"<@{user}>" if user[:1] in "UW" and user.isalnum() else user


def when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if moment else "—"


def hhmm(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M %Z")


def moment_of(moment: datetime, tz: tzinfo, now: datetime) -> str:
    """A time of day, with its date when not today: "19:46 UTC", "Mon 30 Nov 19:46 UTC"."""
    local = moment.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M %Z")
    return local.strftime("%a %d %b %H:%M %Z")


def ago(delta: timedelta) -> str:
    """How long ago (now minus then), never a future time shown as past: "7 min ago", or
    "7 min from now" when the clock stands before it (a clock set back)."""
    if delta < timedelta(seconds=-1):
        return f"{span(delta)} from now"
    return f"{span(max(delta, timedelta(0)))} ago"


def span(delta: timedelta) -> str:
    """A duration as people say it: 45 s, 7 min, 1 h 12 min, 2 d 3 h."""
    seconds = int(abs(delta).total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    numbers = [v for v in values if v is not None]
    if len(numbers) < 2:
        return ""
    low, high = min(numbers), max(numbers)
    scale = (high - low) or 1
    return "".join(
        " " if v is None else BARS[int((v - low) / scale * (len(BARS) - 1))] for v in values
    )


# Dates people may type (`at 2026-11-27 10:02`, `due 2026-12-05`, an override's days): past
# this range a date is a typo, and near year 1 or 9999 it cannot even be converted between
# zones or have a day added.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


def typed_day(text: str) -> date:
    """A typed YYYY-MM-DD inside EARLIEST..LATEST, or a UserError saying what is wrong."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(f"`{clip(text, 30)}` is not a date (YYYY-MM-DD).") from None
    if not EARLIEST <= day <= LATEST:
        raise UserError(
            f"`{clip(text, 30)}` is out of range: opsbot takes dates from {EARLIEST} to {LATEST}."
        )
    return day
