"""Slack edge of /incident: the slash command, the card's buttons, the reminder's snooze.

Order matters for "never lose an incident": the change and every effect it owes (the card,
thread lines, files, pages, PagerDuty, Statuspage, notices) commit to SQLite in one
transaction before ack(), so whatever the person was told is on disk and will reach Slack;
the outbox delivers the effects after the ack (bot/outbox.py, effects.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.deps import Deps
from bot.domain.incidents import card, followup, service, texts
from bot.domain.incidents.outcome import (
    Document,
    Outcome,
    acknowledged_too,
    learn_names,
    outcome_of,
    postmortem_text,
    publish,
    reopen,
    resolve,
    write_postmortem,
)
from bot.domain.oncall import who
from bot.replies import Reply, UserError, hhmm, mention, when
from bot.store import Entry, Incident
from commands.incident import comms, modals, render, stats
from commands.incident import parse as p


def handle(
    ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: dict[str, Any]
) -> None:
    deps: Deps = context["deps"]
    if modals.form_asked(ack, command, client, respond, deps):
        return
    today = deps.clock().astimezone(deps.settings.tz).date()
    args = p.parse(command.get("text", ""), deps.settings.severities, today)
    here = command.get("channel_id")
    if isinstance(args, p.Stats):  # worked out off the request path
        stats.ask(deps, args.period, ack, respond, str(here), command["user_id"])
        return
    if isinstance(args, WRITES_POSTMORTEM):
        learn_names(deps, args.ref, [command["user_id"], getattr(args, "owner", "")], here)
    with deps.store.atomic(once=context.get("replay_key")):
        outcome = execute(args, deps, actor=command["user_id"], here=here)
        publish(outcome, deps)
    ack(**outcome.reply.as_response())


def on_button(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    if action["action_id"] in POSTMORTEM_BUTTONS:
        learn_names(deps, int(action["value"]), [body["user"]["id"]])
    with deps.store.atomic(once=context.get("replay_key")):
        outcome = BUTTONS[action["action_id"]](deps, int(action["value"]), body["user"]["id"])
        publish(outcome, deps)
    ack()


def on_snooze(
    ack: Ack,
    action: dict[str, Any],
    respond: Respond,
    body: dict[str, Any],
    context: dict[str, Any],
) -> None:
    deps: Deps = context["deps"]
    minutes = int(action["action_id"].rsplit(".", 1)[1])
    now = deps.clock()
    with deps.store.atomic(once=context.get("replay_key")):
        service.snooze(deps.store, int(action["value"]), minutes, actor=body["user"]["id"], now=now)
    ack()
    until = hhmm(now + timedelta(minutes=minutes), deps.settings.tz)
    respond(
        text=f":zzz: Snoozed: no reminder (status or public update) before {until}.",
        replace_original=True,
    )


def execute(args: p.Args, deps: Deps, *, actor: str, here: str | None = None) -> Outcome:
    """Run one `/incident`; `here`: the channel it was typed in (an incident's own names it)."""
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
        channel, defaulted = deps.settings.incidents_channel, args.severity is None
        reply = render.render_opened(incident, channel, defaulted=defaulted)
        return Outcome(reply, incident, private=args.private)
    if isinstance(args, p.List):
        only, severity = not args.everything, args.severity
        offset = (args.page - 1) * render.LIST_PAGE
        found = deps.store.incidents.find(
            open_only=only, severity=severity, limit=render.LIST_PAGE, offset=offset
        )
        total = deps.store.incidents.count_incidents(open_only=only, severity=severity)
        return Outcome(
            render.render_list(found, deps.settings, total=total, args=args, now=deps.clock())
        )
    if isinstance(args, p.Stats):  # handle() gives it to the report pool
        raise UserError("`/incident stats` is answered by the slash command only.")
    incident = service.find_incident(deps.store, args.ref, here)
    if not incident.is_open and not isinstance(args, AFTER_RESOLUTION):
        raise UserError(
            f"{incident.ref} is resolved: only post-mortem work (`action`, `done`) changes it "
            "now. Nothing was changed."
        )
    return _ON_INCIDENT[type(args)](deps, incident.number, args, actor)


# What a resolved incident still takes: reading it, post-mortem work, the resolved notice.
_READING, _FOLLOW_UP = (p.Show, p.Timeline, p.Postmortem), (p.Action, p.Actions, p.Done)
AFTER_RESOLUTION = (*_READING, *_FOLLOW_UP, p.Comms, p.Notify, p.Reopen)


def _postmortem_follows(deps: Deps, incident: Incident) -> None:
    """Post-mortem work after resolution keeps the stored draft in step."""
    if not incident.is_open and deps.store.followups.postmortem(incident.number):
        write_postmortem(deps, incident, deps.clock())


def _ack(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.acknowledge(deps.store, deps.settings, number, actor=actor, now=deps.clock())
    return outcome_of(changed, "acknowledged")


def _status(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_status(
        deps.store, deps.settings, number, args.status, actor=actor, now=deps.clock()
    )
    return outcome_of(changed, f"status is now {args.status}")


def _sev(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_severity(
        deps.store, deps.settings, number, args.severity, actor=actor, now=deps.clock()
    )
    return outcome_of(changed, f"severity is now {args.severity}")


def _role(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_role(
        deps.store, deps.settings, number, args.role, args.user, actor=actor, now=deps.clock()
    )
    name = service.ROLE_NAMES[args.role].lower()
    return outcome_of(changed, f"{mention(args.user)} is now the {name}")


def _update(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    now = deps.clock()
    at = wall_clock(args.at, deps, now) if args.at else None
    changed = service.post_update(
        deps.store, deps.settings, number, args.text, actor=actor, now=now, at=at
    )
    what = "update added to the timeline" + (f" at {when(at, deps.settings.tz)}" if at else "")
    return outcome_of(changed, what)


def wall_clock(when: p.When, deps: Deps, now: datetime) -> datetime:
    """ "at 10:02" in the team's zone: today, or yesterday if 10:02 has not come yet today."""
    local_now = now.astimezone(deps.settings.tz)
    day = when.day or local_now.date()
    moment = datetime(day.year, day.month, day.day, when.hour, when.minute, tzinfo=deps.settings.tz)
    if when.day is None and moment > local_now:
        moment -= timedelta(days=1)
    return moment


def _edit(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    now = deps.clock()
    at = wall_clock(args.at, deps, now) if args.at else None
    entry = followup.edit_entry(
        deps.store, number, args.entry, text=args.text, at=at, actor=actor, now=now
    )
    incident = deps.store.incidents.incident(number)
    note = Reply(
        f"{mention(actor)} · edited timeline entry #{entry.seq}: "
        f"{texts.timeline_line(entry, deps.settings)}"
    )
    outcome = Outcome(
        render.render_done(
            entry_incident(incident), f"entry #{entry.seq} edited (the old version is kept)"
        ),
        incident,
        (note,),
    )
    return acknowledged_too(deps, number, actor, "editing the timeline", outcome)


def entry_incident(incident: Incident | None) -> Incident:
    assert incident is not None  # checked by find_incident; incidents are never deleted
    return incident


# What writes or shows a post-mortem, which names people: their names are asked of Slack
# first, outside the transaction (bot/people.py); inside, only the kept names are used.
WRITES_POSTMORTEM = (p.Resolve, p.Postmortem, p.Action, p.Done)
POSTMORTEM_BUTTONS = {card.STEP_ACTIONS["Post-mortem"]}


def _show(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident, entries = _load(deps, number)
    return Outcome(
        render.render_show(incident, entries, deps.settings, oncall=_oncall(deps), now=deps.clock())
    )


def _timeline(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident, entries = _load(deps, number)
    return Outcome(render.render_timeline(incident, entries, deps.settings))


def _postmortem(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    """The stored draft once resolved; while open, the draft of what is known so far."""
    incident = entry_incident(deps.store.incidents.incident(number))
    markdown = _postmortem_markdown(deps, incident)
    reply = texts.render_markdown(f"Post-mortem draft for {incident.ref}", markdown)
    return Outcome(Reply(reply.text, reply.blocks))


def _postmortem_markdown(deps: Deps, incident: Incident) -> str:
    stored = None if incident.is_open else deps.store.followups.postmortem(incident.number)
    return stored.markdown if stored else postmortem_text(deps, incident)


def _action(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    item = followup.add_action(
        deps.store,
        number,
        owner=args.owner,
        text=args.text,
        due=args.due,
        actor=actor,
        now=deps.clock(),
    )
    incident = entry_incident(deps.store.incidents.incident(number))
    _postmortem_follows(deps, incident)
    outcome = Outcome(
        render.render_done(incident, f"action item A{item} added for {mention(args.owner)}")
    )
    return acknowledged_too(deps, number, actor, "adding an action item", outcome)


def _actions(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incidents.incident(number))
    return Outcome(render.render_actions(incident, deps.store.followups.actions(number)))


def _done(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    now = deps.clock()
    if not deps.store.followups.finish_action(number, args.item, now):
        raise UserError(f"INC-{number} has no open action item A{args.item}.")
    done = Entry(now, actor, "action", f"Action item A{args.item} done")
    deps.store.incidents.add_entry(number, done)
    incident = entry_incident(deps.store.incidents.incident(number))
    _postmortem_follows(deps, incident)
    outcome = Outcome(render.render_done(incident, f"action item A{args.item} is done"))
    return acknowledged_too(deps, number, actor, "closing an action item", outcome)


def _load(deps: Deps, number: int) -> tuple[Incident, list[Entry]]:
    return entry_incident(deps.store.incidents.incident(number)), deps.store.incidents.timeline(
        number
    )


_ON_INCIDENT: dict[type, Callable[[Deps, int, Any, str], Outcome]] = {
    p.Ack: _ack,
    p.Status: _status,
    p.Sev: _sev,
    p.Role: _role,
    p.Update: _update,
    p.Edit: _edit,
    p.Resolve: lambda d, n, a, u: resolve(d, n, a.summary, u),
    p.Show: _show,
    p.Timeline: _timeline,
    p.Postmortem: _postmortem,
    p.Action: _action,
    p.Actions: _actions,
    p.Done: _done,
    p.Comms: comms.draft,
    p.Public: comms.public,
    p.PublicTitle: comms.public_title,
    p.Notify: comms.notify,
    p.Reopen: lambda d, n, a, u: reopen(d, n, a.why, u),
}


def _postmortem_button(deps: Deps, number: int, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incidents.incident(number))
    markdown = _postmortem_markdown(deps, incident)
    draft = Document(
        f"{incident.ref}-postmortem.md", f"Post-mortem draft for {incident.ref}", markdown
    )
    return Outcome(Reply(""), incident, files=(draft,))


def _remind_owners(deps: Deps, number: int, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incidents.incident(number))
    reminder = render.render_owner_reminder(incident, deps.store.followups.actions(number))
    return Outcome(Reply(""), incident, (reminder,))


def _take(role: str) -> Callable[[Deps, int, str], Outcome]:
    def take(deps: Deps, number: int, actor: str) -> Outcome:
        return _role(deps, number, p.Role(role, actor), actor)

    return take


BUTTONS: dict[str, Callable[[Deps, int, str], Outcome]] = {
    card.STEP_ACTIONS["Acknowledge"]: lambda d, n, u: _ack(d, n, None, u),
    card.STEP_ACTIONS["Investigate"]: lambda d, n, u: _status(d, n, p.Status("investigating"), u),
    card.STEP_ACTIONS["Mitigate"]: lambda d, n, u: _status(d, n, p.Status("mitigating"), u),
    card.STEP_ACTIONS["Communicate"]: comms.communicate,
    card.STEP_ACTIONS["Post-mortem"]: _postmortem_button,
    card.TAKE_COMMAND: _take("commander"),
    card.TAKE_COMMS: _take("comms"),
    render.REMIND_OWNERS: _remind_owners,
}


def _oncall(deps: Deps) -> str | None:
    return who(deps.store, deps.settings, deps.clock())
