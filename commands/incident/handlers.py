"""Slack edge of /incident: the slash command, the card's buttons, the reminder's snooze.

Order matters for "never lose an incident": the change and every effect it owes (the card,
thread lines, files, pages, PagerDuty, Statuspage, notices) commit to SQLite in one
transaction before ack(), so whatever the person was told is on disk and will reach Slack;
the outbox delivers the effects after the ack (bot/outbox.py, effects.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, Respond

from bot import people
from bot.deps import Deps
from bot.domain.oncall import who
from bot.replies import Reply, UserError, hhmm, mention, when
from bot.store import ActionItem, Changed, Entry, Incident
from commands.incident import effects, render, service
from commands.incident import parse as p


@dataclass(frozen=True)
class Document:
    filename: str
    title: str
    content: str


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    incident: Incident | None = None  # whose card to post or refresh
    thread: tuple[Reply, ...] = ()  # posts for the incident's war-room thread
    files: tuple[Document, ...] = ()  # Markdown files uploaded into the thread
    pager: str | None = None  # PagerDuty event for a paged incident: acknowledge or resolve


def handle(ack: Ack, command: dict[str, Any], respond: Respond, context: dict[str, Any]) -> None:
    deps: Deps = context["deps"]
    today = deps.clock().astimezone(deps.settings.tz).date()
    args = p.parse(command.get("text", ""), deps.settings.severities, today)
    if isinstance(args, WRITES_POSTMORTEM):
        _learn_names(deps, args.ref, [command["user_id"], getattr(args, "owner", "")])
    with deps.store.atomic(once=context.get("replay_key")):
        outcome = execute(args, deps, actor=command["user_id"])
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
        _learn_names(deps, int(action["value"]), [body["user"]["id"]])
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
        channel, defaulted = deps.settings.incidents_channel, args.severity is None
        return Outcome(render.render_opened(incident, channel, defaulted=defaulted), incident)
    if isinstance(args, p.List):
        only, severity = not args.everything, args.severity
        offset = (args.page - 1) * render.LIST_PAGE
        found = deps.store.incidents(
            open_only=only, severity=severity, limit=render.LIST_PAGE, offset=offset
        )
        total = deps.store.count_incidents(open_only=only, severity=severity)
        return Outcome(
            render.render_list(found, deps.settings, total=total, args=args, now=deps.clock())
        )
    incident = service.find_incident(deps.store, args.ref)
    if not incident.is_open and not isinstance(args, AFTER_RESOLUTION):
        raise UserError(
            f"{incident.ref} is resolved: only post-mortem work (`action`, `done`) changes it "
            "now. Nothing was changed."
        )
    return _ON_INCIDENT[type(args)](deps, incident.number, args, actor)


# What a resolved incident still takes: reading it, post-mortem work, the resolved notice.
AFTER_RESOLUTION = (
    p.Show,
    p.Timeline,
    p.Postmortem,
    p.Action,
    p.Actions,
    p.Done,
    p.Comms,
    p.Notify,
)


def _postmortem_follows(deps: Deps, incident: Incident) -> None:
    """Post-mortem work after resolution keeps the stored draft in step."""
    if not incident.is_open and deps.store.postmortem(incident.number):
        write_postmortem(deps, incident, deps.clock())


def _changed(changed: Changed, what: str) -> Outcome:
    lines = tuple(Reply(_thread_line(entry)) for entry in changed.entries)
    kinds = {entry.kind for entry in changed.entries}
    pager = "resolve" if "resolve" in kinds else "acknowledge" if "acknowledge" in kinds else None
    return Outcome(render.render_done(changed.incident, what), changed.incident, lines, pager=pager)


def _acknowledged_too(deps: Deps, number: int, actor: str, by: str, outcome: Outcome) -> Outcome:
    """Work recorded outside the incident's own change (an edit, an action item, the notice)
    still acknowledges an incident nobody has: the outcome gains that line, the card and
    PagerDuty's acknowledgement."""
    changed = service.acknowledge_by_work(
        deps.store, deps.settings, number, actor=actor, now=deps.clock(), by=by
    )
    if changed is None:
        return outcome
    ack = _changed(changed, "acknowledged")
    return replace(
        outcome,
        incident=outcome.incident or ack.incident,
        thread=ack.thread + outcome.thread,
        pager=outcome.pager or ack.pager,
    )


def _thread_line(entry: Entry) -> str:
    who = mention(entry.actor) if entry.actor else "opsbot"
    at = f" (at {entry.at:%a %d %b %H:%M} UTC)" if entry.kind == "note" else ""
    return f"{who} · {entry.text}{at}"


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


def _role(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_role(
        deps.store, deps.settings, number, args.role, args.user, actor=actor, now=deps.clock()
    )
    name = service.ROLE_NAMES[args.role].lower()
    return _changed(changed, f"{mention(args.user)} is now the {name}")


def _update(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    now = deps.clock()
    at = wall_clock(args.at, deps, now) if args.at else None
    changed = service.post_update(
        deps.store, deps.settings, number, args.text, actor=actor, now=now, at=at
    )
    what = "update added to the timeline" + (f" at {when(at, deps.settings.tz)}" if at else "")
    return _changed(changed, what)


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
    entry = service.edit_entry(
        deps.store, number, args.entry, text=args.text, at=at, actor=actor, now=now
    )
    incident = deps.store.incident(number)
    note = Reply(
        f"{mention(actor)} · edited timeline entry #{entry.seq}: "
        f"{render.timeline_line(entry, deps.settings)}"
    )
    outcome = Outcome(
        render.render_done(
            entry_incident(incident), f"entry #{entry.seq} edited (the old version is kept)"
        ),
        incident,
        (note,),
    )
    return _acknowledged_too(deps, number, actor, "editing the timeline", outcome)


def entry_incident(incident: Incident | None) -> Incident:
    assert incident is not None  # checked by find_incident; incidents are never deleted
    return incident


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
    ref = changed.incident.ref
    notice_post = render.render_markdown("Resolution notice", f"```\n{notice}\n```")
    draft = Document(f"{ref}-postmortem.md", f"Post-mortem draft for {ref}", markdown)
    return replace(outcome, thread=outcome.thread + (notice_post,), files=(draft,))


def write_postmortem(deps: Deps, incident: Incident, now: datetime) -> tuple[str, str]:
    markdown = _postmortem_text(deps, incident)
    notice = render.resolution_notice(incident, deps.settings)
    deps.store.save_postmortem(incident.number, markdown, notice, now)
    return markdown, notice


def _postmortem_text(deps: Deps, incident: Incident) -> str:
    entries = deps.store.timeline(incident.number)
    actions = deps.store.actions(incident.number)
    names = deps.store.names(_people(incident, entries, actions))
    return render.postmortem_markdown(incident, entries, actions, deps.settings, names)


# What writes or shows a post-mortem, which names people: their names are asked of Slack
# first, outside the transaction (bot/people.py); inside, only the kept names are used.
WRITES_POSTMORTEM = (p.Resolve, p.Postmortem, p.Action, p.Done)
POSTMORTEM_BUTTONS = {render.STEP_ACTIONS["Resolve"], render.STEP_ACTIONS["Post-mortem"]}


def _people(incident: Incident, entries: list[Entry], actions: list[ActionItem]) -> list[str]:
    return people.mentioned(
        [
            incident.commander,
            incident.comms_lead,
            incident.opened_by,
            incident.acked_by,
            incident.resolved_by,
            incident.summary,
            *(text for e in entries for text in (e.actor, e.text)),
            *(text for a in actions for text in (a.owner, a.text)),
        ]
    )


def _learn_names(deps: Deps, ref: int | None, more: list[str]) -> None:
    try:
        incident = service.find_incident(deps.store, ref)
    except UserError:
        return  # the command itself says what is wrong
    entries, actions = deps.store.timeline(incident.number), deps.store.actions(incident.number)
    people.learn(deps, [*more, *_people(incident, entries, actions)])


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
    incident = entry_incident(deps.store.incident(number))
    stored = deps.store.postmortem(number)
    markdown = stored.markdown if stored else _postmortem_text(deps, incident)
    reply = render.render_markdown(f"Post-mortem draft for {incident.ref}", markdown)
    return Outcome(Reply(reply.text, reply.blocks))


def _action(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    item = service.add_action(
        deps.store,
        number,
        owner=args.owner,
        text=args.text,
        due=args.due,
        actor=actor,
        now=deps.clock(),
    )
    incident = entry_incident(deps.store.incident(number))
    _postmortem_follows(deps, incident)
    outcome = Outcome(
        render.render_done(incident, f"action item A{item} added for {mention(args.owner)}")
    )
    return _acknowledged_too(deps, number, actor, "adding an action item", outcome)


def _actions(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incident(number))
    return Outcome(render.render_actions(incident, deps.store.actions(number)))


def _done(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    now = deps.clock()
    if not deps.store.finish_action(number, args.item, now):
        raise UserError(f"INC-{number} has no open action item A{args.item}.")
    deps.store.add_entry(number, Entry(now, actor, "action", f"Action item A{args.item} done"))
    incident = entry_incident(deps.store.incident(number))
    _postmortem_follows(deps, incident)
    outcome = Outcome(render.render_done(incident, f"action item A{args.item} is done"))
    return _acknowledged_too(deps, number, actor, "closing an action item", outcome)


def _comms(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incident(number))
    return Outcome(render.render_comms(incident, deps.settings, deps.clock()))


def _public(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.public_update(
        deps.store, deps.settings, number, args.text, actor=actor, now=deps.clock()
    )
    effects.status_page(deps, changed.incident, args.text)
    return _changed(changed, "public update posted to the status page")


def _public_title(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_public_title(
        deps.store, deps.settings, number, args.title, actor=actor, now=deps.clock()
    )
    return _changed(changed, "public title set")


def _notify(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incident(number))
    if not deps.settings.status_page.notice_webhook:
        raise UserError(
            "No notice webhook is configured (`status_page.notice_webhook`); "
            f"`/incident comms {incident.ref}` gives the text to copy."
        )
    effects.notice(deps, incident, entry="User notice sent", actor=actor)
    outcome = Outcome(render.render_done(incident, "the user notice is being sent"))
    return _acknowledged_too(deps, number, actor, "sending the user notice", outcome)


def _load(deps: Deps, number: int) -> tuple[Incident, list[Entry]]:
    return entry_incident(deps.store.incident(number)), deps.store.timeline(number)


_ON_INCIDENT: dict[type, Callable[[Deps, int, Any, str], Outcome]] = {
    p.Ack: _ack,
    p.Status: _status,
    p.Sev: _sev,
    p.Role: _role,
    p.Update: _update,
    p.Edit: _edit,
    p.Resolve: _resolve,
    p.Show: _show,
    p.Timeline: _timeline,
    p.Postmortem: _postmortem,
    p.Action: _action,
    p.Actions: _actions,
    p.Done: _done,
    p.Comms: _comms,
    p.Public: _public,
    p.PublicTitle: _public_title,
    p.Notify: _notify,
}


def _communicate(deps: Deps, number: int, actor: str) -> Outcome:
    changed = service.mark_communicated(
        deps.store, deps.settings, number, actor=actor, now=deps.clock()
    )
    outcome = _changed(changed, "Communicate step started")
    checklist = Reply(
        ":mega: *Communicate* (the plan's step 4)\n• Update the status page\n"
        "• Notify affected users\n• Keep stakeholders informed\n"
        f"`/incident comms {changed.incident.ref}` drafts the notification; post each update "
        "with `/incident update` so it lands on the timeline."
    )
    return replace(outcome, thread=outcome.thread + (checklist,))


def _postmortem_button(deps: Deps, number: int, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incident(number))
    stored = deps.store.postmortem(number)
    markdown = stored.markdown if stored else _postmortem_text(deps, incident)
    draft = Document(
        f"{incident.ref}-postmortem.md", f"Post-mortem draft for {incident.ref}", markdown
    )
    return Outcome(Reply(""), incident, files=(draft,))


def _remind_owners(deps: Deps, number: int, actor: str) -> Outcome:
    incident = entry_incident(deps.store.incident(number))
    reminder = render.render_owner_reminder(incident, deps.store.actions(number))
    return Outcome(Reply(""), incident, (reminder,))


def _take(role: str) -> Callable[[Deps, int, str], Outcome]:
    def take(deps: Deps, number: int, actor: str) -> Outcome:
        return _role(deps, number, p.Role(role, actor), actor)

    return take


BUTTONS: dict[str, Callable[[Deps, int, str], Outcome]] = {
    render.STEP_ACTIONS["Acknowledge"]: lambda d, n, u: _ack(d, n, None, u),
    render.STEP_ACTIONS["Investigate"]: lambda d, n, u: _status(d, n, p.Status("investigating"), u),
    render.STEP_ACTIONS["Mitigate"]: lambda d, n, u: _status(d, n, p.Status("mitigating"), u),
    render.STEP_ACTIONS["Communicate"]: _communicate,
    render.STEP_ACTIONS["Resolve"]: lambda d, n, u: _resolve(d, n, p.Resolve(n), u),
    render.STEP_ACTIONS["Post-mortem"]: _postmortem_button,
    render.TAKE_COMMAND: _take("commander"),
    render.TAKE_COMMS: _take("comms"),
    render.REMIND_OWNERS: _remind_owners,
}


def _oncall(deps: Deps) -> str | None:
    return who(deps.store, deps.settings, deps.clock())


def publish(outcome: Outcome, deps: Deps) -> None:
    """Owe the outcome's effects: the card (posted the first time, refreshed after), the
    thread lines, PagerDuty, and files, as outbox rows. Call it inside the change's
    transaction (Store.atomic), so the change and its effects commit together."""
    if outcome.incident is None:
        return
    incident = outcome.incident
    effects.card(deps, incident.number)
    for reply in outcome.thread:
        effects.thread(deps, incident.number, reply)
    if outcome.pager and incident.breached_at:  # it was paged: tell PagerDuty too
        effects.pager(deps, incident, outcome.pager)
    if outcome.pager == "resolve":
        effects.resolved_everywhere(deps, incident)
    for document in outcome.files:
        effects.file(deps, incident.number, document.filename, document.title, document.content)
