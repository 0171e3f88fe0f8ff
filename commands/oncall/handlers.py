"""Slack edge of /oncall: the command and the swap's Accept/Decline buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond

from bot.deps import Deps
from bot.domain import oncall
from bot.replies import Reply, mention, when
from commands.oncall import feeds, render, service
from commands.oncall import parse as p


def handle(ack: Ack, command: dict[str, Any], context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    args = p.parse(command.get("text", ""))
    ack(**execute(args, deps, actor=command["user_id"]).as_response())


def execute(args: p.Args, deps: Deps, *, actor: str) -> Reply:
    settings, store, now = deps.settings, deps.store, deps.clock()
    if isinstance(args, p.Help):
        return Reply(p.USAGE)
    if isinstance(args, p.Now):
        return render.render_status(
            oncall.status(store, settings, now, actor), settings, now, actor
        )
    if isinstance(args, p.Schedule):
        shifts = oncall.upcoming(store, settings, now, args.weeks)
        return render.render_schedule(shifts, settings, args.weeks)
    if isinstance(args, p.Contacts):
        return render.render_contacts(settings)
    if isinstance(args, p.Calendar):
        return feeds.addresses(deps, args, actor)
    if isinstance(args, p.Set):
        service.set_rotation(store, settings, args.members, actor=actor, now=now)
        order = ", ".join(mention(m) for m in args.members)
        return Reply(
            f":white_check_mark: Rotation set: {order}. {mention(args.members[0])} is on "
            "call this week.",
            public=True,
        )
    if isinstance(args, p.Override):
        start, end, replaced = service.override(store, settings, args, actor=actor, now=now)
        takes_over = "".join(
            f" It replaces {mention(o.user)}'s override of {when(o.start, settings.tz)} → "
            f"{when(o.end, settings.tz)} where they overlap."
            for o in replaced
        )
        return Reply(
            f":white_check_mark: {mention(args.user)} is on call from "
            f"{when(start, settings.tz)} to {when(end, settings.tz)} "
            f"(override by {mention(actor)}).{takes_over}",
            public=True,
        )
    swap, give, take = service.request_swap(store, settings, actor, args, now=now)
    return render.render_swap_request(swap, give, take, args.user, settings)


def on_swap_answer(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    accepted = action["action_id"] == render.SWAP_ACCEPT
    actor = body["user"]["id"]
    swap = service.answer_swap(
        deps.store, int(action["value"]), actor=actor, accepted=accepted, now=deps.clock()
    )
    ack()
    verdict = "accepted: the schedule is changed" if accepted else "declined: nothing changed"
    respond(
        text=f":arrows_counterclockwise: {mention(swap.requester)}'s swap with "
        f"{mention(actor)} was {verdict}.",
        replace_original=True,
        response_type="in_channel",
    )
