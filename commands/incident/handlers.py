"""Slack edge of /incident: the slash command, the step buttons and the :pushpin: reaction.

Order matters for "never lose an incident": the change is committed to SQLite before ack(),
so whatever the person was told is on disk; the card and thread posts follow the ack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.replies import Reply, clip, mention
from bot.rotation import current_oncall
from bot.store import Changed, Entry, Incident
from commands.incident import parse as p
from commands.incident import render, service

PIN = "pushpin"
PIN_CONFIRM = "memo"


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    incident: Incident | None = None  # whose card to post or refresh
    thread: tuple[Reply, ...] = ()  # posts for the incident's war-room thread


def handle(ack: Ack, command: dict[str, Any], respond: Respond, context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    args = p.parse(command.get("text", ""), deps.settings.severities)
    outcome = execute(args, deps, actor=command["user_id"])
    ack(**outcome.reply.as_response())
    deps.post_later(lambda: publish(outcome, deps), respond)


def on_step(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    number = int(action["value"])
    outcome = STEP_BUTTONS[action["action_id"]](deps, number, body["user"]["id"])
    ack()
    deps.post_later(lambda: publish(outcome, deps), respond)


def execute(args: p.Args, deps: Deps, *, actor: str) -> Outcome:
    if isinstance(args, p.Help):
        return Outcome(Reply(p.USAGE))
    if isinstance(args, p.Open):
        incident = service.open_incident(
            deps.store,
            deps.settings,
            title=args.title,
            severity=args.severity,
            actor=actor,
            now=deps.clock(),
        )
        return Outcome(render.render_opened(incident, deps.settings.incidents_channel), incident)
    if isinstance(args, p.List):
        found = deps.store.incidents(open_only=not args.everything)
        return Outcome(
            render.render_list(found, deps.settings, everything=args.everything, now=deps.clock())
        )
    incident = service.find_incident(deps.store, args.ref)
    return _ON_INCIDENT[type(args)](deps, incident.number, args, actor)


def _changed(changed: Changed, what: str) -> Outcome:
    lines = tuple(Reply(_thread_line(entry)) for entry in changed.entries)
    return Outcome(render.render_done(changed.incident, what), changed.incident, lines)


def _thread_line(entry: Entry) -> str:
    return f"{mention(entry.actor) if entry.actor else 'opsbot'} · {entry.text}"


def _ack(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.acknowledge(deps.store, deps.settings, number, actor=actor, now=deps.clock())
    return _changed(changed, "acknowledged")


def _status(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_status(
        deps.store, deps.settings, number, args.status, actor=actor, now=deps.clock()
    )
    return _changed(changed, f"status is now {args.status}")


def _sev(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_severity(
        deps.store, deps.settings, number, args.severity, actor=actor, now=deps.clock()
    )
    return _changed(changed, f"severity is now {args.severity}")


def _lead(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_lead(deps.store, number, args.user, actor=actor, now=deps.clock())
    return _changed(changed, f"{mention(args.user)} is now the commander")


def _update(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.post_update(deps.store, number, args.text, actor=actor, now=deps.clock())
    return _changed(changed, "update added to the timeline")


def _resolve(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    now = deps.clock()
    changed = service.resolve(
        deps.store, deps.settings, number, actor=actor, summary=args.summary, now=now
    )
    deps.store.add_entry(number, Entry(now, None, "postmortem", "Post-mortem draft written"))
    markdown, notice = write_postmortem(deps, changed.incident, now)
    outcome = _changed(
        changed,
        "resolved; the post-mortem draft and the resolution notice are in the incident's thread",
    )
    documents = (
        render.render_markdown(f"Post-mortem draft for {changed.incident.ref}", markdown),
        render.render_markdown("Resolution notice", f"```\n{notice}\n```"),
    )
    return Outcome(outcome.reply, outcome.incident, outcome.thread + documents)


def write_postmortem(deps: Deps, incident: Incident, now: datetime) -> tuple[str, str]:
    entries = deps.store.timeline(incident.number)
    markdown = render.postmortem_markdown(incident, entries, deps.settings)
    notice = render.resolution_notice(incident, deps.settings)
    deps.store.save_postmortem(incident.number, markdown, notice, now)
    return markdown, notice


def _show(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident, entries = _load(deps, number)
    return Outcome(
        render.render_show(incident, entries, deps.settings, oncall=_oncall(deps), now=deps.clock())
    )


def _timeline(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident, entries = _load(deps, number)
    return Outcome(render.render_timeline(incident, entries, deps.settings))


def _postmortem(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident, entries = _load(deps, number)
    stored = deps.store.postmortem(number)
    if stored:
        markdown = stored.markdown
    else:  # still open: a draft of what is known so far, not stored
        markdown = render.postmortem_markdown(incident, entries, deps.settings)
    reply = render.render_markdown(f"Post-mortem draft for {incident.ref}", markdown)
    return Outcome(Reply(reply.text, reply.blocks))


def _load(deps: Deps, number: int) -> tuple[Incident, list[Entry]]:
    incident = deps.store.incident(number)
    assert incident is not None  # find_incident checked it exists; incidents are never deleted
    return incident, deps.store.timeline(number)


_ON_INCIDENT: dict[type, Callable[[Deps, int, Any, str], Outcome]] = {
    p.Ack: _ack,
    p.Status: _status,
    p.Sev: _sev,
    p.Lead: _lead,
    p.Update: _update,
    p.Resolve: _resolve,
    p.Show: _show,
    p.Timeline: _timeline,
    p.Postmortem: _postmortem,
}


def _communicate(deps: Deps, number: int, actor: str) -> Outcome:
    changed = service.mark_communicated(
        deps.store, deps.settings, number, actor=actor, now=deps.clock()
    )
    outcome = _changed(changed, "Communicate step started")
    checklist = Reply(
        ":mega: *Communicate* (the plan's step 4)\n• Update the status page\n"
        "• Notify affected users\n• Keep stakeholders informed\n"
        "Post each update with `/incident update` so it lands on the timeline."
    )
    return Outcome(outcome.reply, outcome.incident, outcome.thread + (checklist,))


def _postmortem_button(deps: Deps, number: int, actor: str) -> Outcome:
    outcome = _postmortem(deps, number, None, actor)
    incident = deps.store.incident(number)
    return Outcome(Reply(""), incident, (Reply(outcome.reply.text, outcome.reply.blocks),))


STEP_BUTTONS: dict[str, Callable[[Deps, int, str], Outcome]] = {
    render.STEP_ACTIONS["Acknowledge"]: lambda d, n, u: _ack(d, n, None, u),
    render.STEP_ACTIONS["Investigate"]: lambda d, n, u: _status(d, n, p.Status("investigating"), u),
    render.STEP_ACTIONS["Mitigate"]: lambda d, n, u: _status(d, n, p.Status("mitigating"), u),
    render.STEP_ACTIONS["Communicate"]: _communicate,
    render.STEP_ACTIONS["Resolve"]: lambda d, n, u: _resolve(d, n, p.Resolve(n), u),
    render.STEP_ACTIONS["Post-mortem"]: _postmortem_button,
}


def _oncall(deps: Deps) -> str | None:
    return current_oncall(deps.settings.oncall, deps.clock(), deps.settings.tz)


def publish(outcome: Outcome, deps: Deps) -> None:
    """Refresh the incident's card (posting it the first time) and add the thread posts.
    Runs on the outbox thread only, so two updates of one card never cross."""
    if outcome.incident is None:
        return
    incident = sync_card(deps, outcome.incident.number)
    assert incident.card_channel is not None  # sync_card posted the card or raised
    for reply in outcome.thread:
        deps.slack.chat_postMessage(
            channel=incident.card_channel, thread_ts=incident.card_ts, **reply.as_message()
        )


def sync_card(deps: Deps, number: int) -> Incident:
    """Post or refresh the card from committed state (on the outbox thread)."""
    incident, entries = _load(deps, number)
    card = render.render_card(
        incident, deps.settings, oncall=_oncall(deps), entries=entries, now=deps.clock()
    )
    if incident.card_ts and incident.card_channel:
        deps.slack.chat_update(
            channel=incident.card_channel, ts=incident.card_ts, **card.as_message()
        )
        return incident
    channel = deps.settings.incidents_channel
    posted = deps.slack.chat_postMessage(channel=channel, **card.as_message())
    announced = Entry(deps.clock(), None, "post", f"Announced in {channel}")
    deps.store.set_card(number, posted["channel"], posted["ts"], announced)
    return replace(incident, card_channel=posted["channel"], card_ts=posted["ts"])


def on_reaction(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
    """:pushpin: on a message in an incident's thread puts it on the timeline at its own time."""
    if event.get("reaction") != PIN or event.get("item", {}).get("type") != "message":
        return
    deps: Deps = context["deps"]
    channel, ts = event["item"]["channel"], event["item"]["ts"]
    message = _message(client, channel, ts)
    incident = _incident_of(deps, channel, message)
    if incident is None:
        return
    source = f"pin:{channel}:{ts}"
    if event["type"] == "reaction_removed":
        if deps.store.remove_entry(incident.number, source):
            _unconfirm(client, channel, ts)
        return
    at = datetime.fromtimestamp(float(ts), UTC)
    entry = Entry(
        at, message.get("user"), "pin", clip(message.get("text") or "(no text)", 500), source
    )
    if deps.store.add_entry(incident.number, entry):
        client.reactions_add(channel=channel, timestamp=ts, name=PIN_CONFIRM)


def _message(client: WebClient, channel: str, ts: str) -> dict[str, Any]:
    found = client.reactions_get(channel=channel, timestamp=ts, full=True)
    message: dict[str, Any] = found.get("message") or {}
    return message


def _incident_of(deps: Deps, channel: str, message: dict[str, Any]) -> Incident | None:
    root = message.get("thread_ts")
    if not root or root == message.get("ts"):  # not a reply in a thread (the card itself)
        return None
    return deps.store.incident_by_card(channel, root)


def _unconfirm(client: WebClient, channel: str, ts: str) -> None:
    try:
        client.reactions_remove(channel=channel, timestamp=ts, name=PIN_CONFIRM)
    except SlackApiError as exc:
        if exc.response.get("error") != "no_reaction":  # already gone is fine
            raise
