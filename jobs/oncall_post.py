"""oncall-post: the scheduled "who is on call" message (GoAlert-style), on the configured
days and time, in the announce channel (default: the digest channel)."""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.domain import oncall
from bot.replies import Reply
from commands.oncall import render


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    status = oncall.status(deps.store, deps.settings, now, caller="")
    reply = render.render_status(status, deps.settings, now, caller="")
    text = "\n".join(line for line in reply.text.splitlines() if not line.startswith("*You"))
    channel = deps.settings.oncall.announce_channel or deps.settings.digest_target
    if dry_run:
        return f"Would post to {channel}: {text}"
    deps.post_now(channel, Reply(text))
    return f"Posted who is on call to {channel}."
