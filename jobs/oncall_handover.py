"""oncall-handover: when the person on call changes (the weekly turn, an override, a swap),
post the handover in the incidents channel and keep the on-call user group in step.

Runs every minute. The last handover announced (who, and the instant their shift began) is
kept in SQLite: a start announces nothing unless the person on call changed since, and a
clock set back (to an earlier shift) never announces a handover backwards.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from bot import posting
from bot.deps import Deps
from bot.domain import oncall
from bot.domain.oncall.schedule import shift_at
from commands.oncall import render

STATE_KEY = "oncall.announced"


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    rotation = oncall.rotation(deps.store, deps.settings)
    shift = shift_at(rotation, oncall.overrides(deps.store, now), now)
    if shift is None:
        return "No rotation is set."
    previous, since = _announced(deps)
    if previous is None:  # the first run on this database: nobody handed over, say nothing
        if not dry_run:
            with deps.store.atomic():
                _sync_group(deps, shift.user)
                deps.store.set_state(STATE_KEY, _record(shift.user, shift.start))
        return f"<@{shift.user}> is on call (first run: recorded, not announced)."
    if previous == shift.user:
        return f"No change: <@{shift.user}> is still on call."
    if since is not None and shift.start < since:
        return f"No change: that shift began before the last handover to <@{previous}>."
    if dry_run:
        return f"Would hand over from {previous or 'nobody'} to {shift.user}."
    reply = render.render_handover(
        previous,
        shift.user,
        shift.end,
        deps.store.incidents.find(open_only=True),
        _overdue(deps, now),
        deps.settings,
    )
    # The post, the user group and the record commit together: announced exactly once.
    with deps.store.atomic():
        posting.enqueue_post(deps, deps.settings.incidents_channel, reply.as_message())
        _sync_group(deps, shift.user)
        deps.store.set_state(STATE_KEY, _record(shift.user, shift.start))
    return f"Handed over to {shift.user}."


def _sync_group(deps: Deps, user: str) -> None:
    if deps.settings.oncall.usergroup:
        deps.store.outbox.enqueue(
            "slack.usergroup",
            "slack:usergroups",
            {"usergroup": deps.settings.oncall.usergroup, "users": [user]},
        )


def _record(user: str, start: datetime) -> str:
    return json.dumps({"user": user, "since": start.isoformat()})


def _announced(deps: Deps) -> tuple[str | None, datetime | None]:
    """The last handover: who, and when their shift began (a bare id from older versions)."""
    stored = deps.store.state(STATE_KEY)
    if not stored:
        return None, None
    if not stored.startswith("{"):
        return stored, None
    found = json.loads(stored)
    return found["user"], datetime.fromisoformat(found["since"])


def _overdue(deps: Deps, now: datetime) -> list[str]:
    today = now.astimezone(deps.settings.tz).date()
    late = []
    for incident in deps.store.incidents.find(open_only=False, limit=200):
        for item in deps.store.followups.actions(incident.number):
            if not item.done_at and item.due and date.fromisoformat(item.due) < today:
                late.append(
                    f"A{item.id} ({incident.ref}) {item.text}, <@{item.owner}>, due {item.due}"
                )
    return late
