"""What each line typed in the shell does: a slash command or a button press goes to the App
as a signed request, through the same edge as `opsbot serve`; a reply or a reaction is made in
the local workspace as a person would make it; `jobs` and `run` list and run the jobs."""

from __future__ import annotations

import difflib
import io
import json
import re
import shlex
from collections.abc import Sequence
from typing import Any

from slack_bolt import App

from bot import edge
from bot.deps import Deps
from bot.tools import localslack
from bot.tools.console.output import Output
from bot.tools.console.stand_ins import TEAM
from bot.tools.localslack import Message
from commands import COMMANDS
from jobs import JOBS, run_by_hand


def did_you_mean(command: str) -> str | None:
    """The slash command nearest to a mistyped one (`/incdent`), if one is near."""
    close = difflib.get_close_matches(command.lower(), list(COMMANDS), n=1, cutoff=0.75)
    return close[0] if close else None


class Input(Output):
    secret: str  # what the requests to the App are signed with
    app: App
    deps: Deps

    def _dispatch(self, body: str, content_type: str, quiet: tuple[int, ...] = ()) -> Any:
        """Through the same edge as `opsbot serve` (bot/edge.py): signed, checked, parsed."""
        raw = body.encode()
        headers: dict[str, str | Sequence[str]] = {
            name.lower(): value
            for name, value in localslack.signed_headers(body, self.secret).items()
        }
        headers["content-type"] = content_type
        response = edge.handle(self.app, self.secret, headers, io.BytesIO(raw).read, str(len(raw)))
        if response.status != 200 and response.status not in quiet:
            self._say(f"(the bot answered HTTP {response.status})")
        return response

    def _slash(self, command: str, text: str) -> None:
        text = self._as_slack_sends(text)
        body = localslack.slash_command(
            command,
            text,
            user=TEAM[self.user],
            user_name=self.user,
            channel=self.channel,
            response_url=self.slack.response_url(),
        )
        with self._answer_first():
            response = self._dispatch(body, "application/x-www-form-urlencoded", quiet=(404,))
            if response.status == 404:
                guess = did_you_mean(command)
                meant = f" Did you mean `{guess}`?" if guess else ""
                self._say(f"{command} is not a command this bot knows.{meant}")
            elif response.body:
                self._render("response", json.loads(response.body))

    def _as_slack_sends(self, text: str) -> str:
        """Typed text as Slack hands it on: `& < >` escaped, then @name made <@ID|name>."""

        def swap(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"<@{TEAM[name]}|{name}>" if name in TEAM else match.group(0)

        return re.sub(r"@(\w+)", swap, localslack.escape(text))

    def _press(self, rest: str) -> None:
        """`press N` (a button of the last ones shown) or `press mK N` (button N of mK)."""
        parts = rest.split()
        if len(parts) == 2 and parts[0].lower().startswith("m"):
            found = self._message(parts[0])
            if found is None:
                return
            buttons = [
                (element, found)
                for block in found.blocks
                if block.get("type") == "actions"
                for element in block.get("elements", [])
            ]
            number = parts[1]
        else:
            buttons, number = self.buttons, parts[0] if parts else ""
        digits = number.strip("[]")
        if len(parts) not in (1, 2) or not digits.isdigit():
            self._say("Usage: press N, or press mK N (button N of message mK)")
            return
        index = int(digits) - 1
        if not 0 <= index < len(buttons):
            self._say(f"No button [{digits}].")
            return
        action, message = buttons[index]
        body = localslack.block_action(
            action,
            message,
            user=TEAM[self.user],
            user_name=self.user,
            response_url=self.slack.response_url(),
        )
        self._dispatch(body, "application/x-www-form-urlencoded")

    def _message(self, ref: str) -> Message | None:
        digits = ref.lstrip("#mM")
        index = int(digits) - 1 if digits.isdigit() else -1
        if not 0 <= index < len(self.numbered):
            self._say(f"No message {ref}.")
            return None
        return self.numbered[index]

    def _shortcut(self, rest: str) -> None:
        """`shortcut mK declare`: the "Declare incident" shortcut on message mK."""
        ref, _, name = rest.partition(" ")
        if name.strip() != "declare":
            self._say("Usage: shortcut mK declare (declare an incident from message mK)")
            return
        message = self._message(ref)
        if message is not None:
            body = localslack.message_shortcut(
                "incident.declare",
                message,
                user=TEAM[self.user],
                user_name=self.user,
                response_url=self.slack.response_url(),
            )
            self._dispatch(body, "application/x-www-form-urlencoded")

    def _reply(self, rest: str) -> None:
        ref, _, text = rest.partition(" ")
        message = self._message(ref)
        if message and text:
            root = message.thread_ts or message.ts
            typed = self._as_slack_sends(text)
            self.slack.post(message.channel, TEAM[self.user], typed, thread_ts=root)

    def _react(self, rest: str, added: bool = True) -> None:
        try:
            parts = shlex.split(rest)
        except ValueError:  # an unclosed quote
            parts = []
        message = self._message(parts[0]) if parts else None
        if message is None or len(parts) != 2:
            self._say("Usage: react mN <emoji>")
            return
        name = parts[1].strip(":")
        if not self.slack.react(message, TEAM[self.user], name, add=added):
            return
        if not self.slack.is_member(message.channel):
            where = self.slack.channel_name(message.channel)
            self._say(f"(opsbot is not in {where}: Slack sends it no reactions from there)")
        else:
            body = localslack.reaction_event(message, user=TEAM[self.user], name=name, added=added)
            self._dispatch(body, "application/json")

    def _as(self, rest: str) -> None:
        if rest not in TEAM:
            self._say(f"Teammates here: {', '.join(TEAM)}.")
            return
        self.user = rest

    def _channels(self, rest: str) -> None:
        """`channels`: each channel of the local workspace, as its header in Slack shows it:
        private or archived, who is in it, its topic, bookmarks and pinned messages."""
        for name, cid in sorted(self.slack.channel_ids.items()):
            if not name.startswith("#"):
                continue  # a DM
            room = self.slack.room(cid)
            archived = cid in self.slack.archived
            flags = [w for w, on in (("private", room.private), ("archived", archived)) if on]
            marked = f" ({', '.join(flags)})" if flags else ""
            people = sorted("@" + self.slack.users.get(u, u) for u in room.members)
            self._say(f"{name}{marked}: {', '.join(people) or 'nobody'}")
            if room.topic:
                self._say(f"  topic: {room.topic}")
            for mark in room.bookmarks:
                self._say(f"  bookmark: {mark['title']} <{mark['link']}>")
            pinned = [self._number(self.slack.find(cid, ts)) for ts in room.pins]
            if pinned:
                self._say(f"  pinned: {', '.join(pinned)}")

    def _jobs(self, rest: str) -> None:
        for name, job in JOBS.items():
            self._say(f"{name}: {job.description}")

    def _run(self, rest: str) -> None:
        name, _, flag = rest.partition(" ")
        if name not in JOBS:
            self._say(f"Unknown job {name!r}. Jobs: {', '.join(JOBS)}.")
            return
        summary = run_by_hand(name, self.deps, dry_run=flag == "--dry-run")
        self._say(f"{name}: {summary}")
