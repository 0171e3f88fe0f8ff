"""oncall-handover: when the person on call changes (the weekly turn, an override, a swap),
post the handover in the incidents channel and keep the on-call user group in step.

Runs every minute; the last announced person is kept in SQLite, so a restart neither misses
a turn nor announces one twice.
"""

from __future__ import annotations

from datetime import date, datetime

from bot import outbox
from bot.deps import Deps
from commands.oncall import render, service
from commands.oncall.schedule import shift_at

STATE_KEY = "oncall.announced"


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    rotation = service.rotation(deps.store, deps.settings)
    shift = shift_at(rotation, service.overrides(deps.store, now), now)
    if shift is None:
        return "No rotation is set."
    previous = deps.store.state(STATE_KEY)
    if previous == shift.user:
        return f"No change: <@{shift.user}> is still on call."
    if dry_run:
        return f"Would hand over from {previous or 'nobody'} to {shift.user}."
    reply = render.render_handover(
        previous,
        shift.user,
        shift.end,
        deps.store.incidents(open_only=True),
        _overdue(deps, now),
        deps.settings,
    )
    # The post, the user group and the record commit together: announced exactly once.
    with deps.store.atomic():
        outbox.enqueue_post(deps, deps.settings.incidents_channel, reply.as_message())
        if deps.settings.oncall.usergroup:
            deps.store.enqueue(
                "slack.usergroup",
                "slack:usergroups",
                {"usergroup": deps.settings.oncall.usergroup, "users": [shift.user]},
            )
        deps.store.set_state(STATE_KEY, shift.user)
    return f"Handed over to {shift.user}."


def _overdue(deps: Deps, now: datetime) -> list[str]:
    today = now.astimezone(deps.settings.tz).date()
    late = []
    for incident in deps.store.incidents(open_only=False, limit=200):
        for item in deps.store.actions(incident.number):
            if not item.done_at and item.due and date.fromisoformat(item.due) < today:
                late.append(
                    f"A{item.id} ({incident.ref}) {item.text}, <@{item.owner}>, due {item.due}"
                )
    return late
