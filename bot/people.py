"""People by name where text leaves Slack (the post-mortem file), not by raw id.

Slack shows `<@U0BOB0001>` as @bob; a file read outside Slack cannot. Each person's display
name is asked of Slack once (`users.info`) and kept in SQLite. Asking happens before a
command's transaction and within a short budget, so a slow Slack delays an answer by at most
LOOKUP_SECONDS and never holds the database; whoever Slack cannot name (yet) is shown by id.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.concurrently import run_all
from bot.deps import Deps

log = logging.getLogger(__name__)

LOOKUP_SECONDS = 1.0  # what a command's answer may wait for names, all looked up at once
MOST_AT_ONCE = 20  # people asked about per request; the rest on the next one
ASK_AGAIN = timedelta(days=1)  # after Slack could not name someone
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")


def mentioned(texts: Iterable[str | None]) -> list[str]:
    """The user ids referenced (`<@U…>`) in `texts`, and any text that is itself an id."""
    found: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        if USER_ID.match(text):
            found.setdefault(text)
        for user in MENTION.findall(text):
            found.setdefault(user)
    return list(found)


def learn(deps: Deps, users: Iterable[str]) -> None:
    """Ask Slack for the names of those not known yet, at once, for at most LOOKUP_SECONDS
    in all; an answer that comes later is still kept. Call it outside any transaction."""
    wanted = [u for u in dict.fromkeys(users) if USER_ID.match(u)]
    if not wanted:
        return
    known = deps.store.people.asked_since(wanted, deps.clock() - ASK_AGAIN)
    missing = [u for u in wanted if u not in known][:MOST_AT_ONCE]
    if missing:
        tasks: dict[str, Callable[[], None]] = {
            user: functools.partial(_look_up, deps, user) for user in missing
        }
        run_all(tasks, LOOKUP_SECONDS, lambda user, why: log.info("%s: %s", user, why), "people")


def _look_up(deps: Deps, user: str) -> None:
    try:
        answer = deps.slack.users_info(user=user)
    except SlackApiError as exc:  # user_not_found, missing_scope: show the id for a day
        error = exc.response.get("error") if exc.response is not None else None
        log.info("users.info %s: %s", user, error)
        deps.store.people.save_name(user, None, deps.clock())
        return
    found = answer.get("user") or {}
    profile = found.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or found.get("real_name")
    named = str(name or found.get("name") or "") or None
    deps.store.people.save_name(user, named, deps.clock(), found.get("tz") or None)
