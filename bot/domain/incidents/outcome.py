"""What a change to an incident owes, and owing it: the reply, the card, the war-room thread's
lines, files and the PagerDuty event, written as outbox rows in the change's transaction
(publish). Resolving, with its post-mortem draft and notice, is one of them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot import people
from bot.deps import Deps
from bot.domain.incidents import effects, outside, room, service, texts
from bot.replies import Reply, UserError, mention
from bot.store import ActionItem, Changed, Entry, Incident


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
    private: bool = False  # asked for a private channel (it gets one when its severity does)
    newcomers: bool = False  # a new commander or severity: its channel may want more people


def outcome_of(changed: Changed, what: str) -> Outcome:
    """A change's outcome: `INC-n: <what>.` to the person, a thread line per timeline entry,
    the card, and PagerDuty told of an acknowledgement or resolution."""
    lines = tuple(Reply(thread_line(entry)) for entry in changed.entries)
    kinds = {entry.kind for entry in changed.entries}
    pager = "resolve" if "resolve" in kinds else "acknowledge" if "acknowledge" in kinds else None
    reply = Reply(text=f"{changed.incident.ref}: {what}.")
    newcomers = bool(kinds & {"role", "severity"})
    return Outcome(reply, changed.incident, lines, pager=pager, newcomers=newcomers)


def acknowledged_too(deps: Deps, number: int, actor: str, by: str, outcome: Outcome) -> Outcome:
    """Work recorded outside the incident's own change (an edit, an action item, the notice)
    still acknowledges an incident nobody has: the outcome gains that line, the card and
    PagerDuty's acknowledgement."""
    changed = service.acknowledge_by_work(
        deps.store, deps.settings, number, actor=actor, now=deps.clock(), by=by
    )
    if changed is None:
        return outcome
    ack = outcome_of(changed, "acknowledged")
    return replace(
        outcome,
        incident=outcome.incident or ack.incident,
        thread=ack.thread + outcome.thread,
        pager=outcome.pager or ack.pager,
    )


def thread_line(entry: Entry) -> str:
    who = mention(entry.actor) if entry.actor else "opsbot"
    at = f" (at {entry.at:%a %d %b %H:%M} UTC)" if entry.kind == "note" else ""
    return f"{who} · {entry.text}{at}"


def resolve(deps: Deps, number: int, summary: str | None, actor: str) -> Outcome:
    """Resolve: the draft post-mortem and the resolution notice written, stored and owed to
    the thread; PagerDuty, Statuspage and the notice told it is over."""
    now = deps.clock()
    changed = service.resolve(
        deps.store, deps.settings, number, actor=actor, summary=summary, now=now
    )
    deps.store.incidents.add_entry(
        number, Entry(now, None, "postmortem", "Post-mortem draft written")
    )
    markdown, notice = write_postmortem(deps, changed.incident, now)
    outcome = outcome_of(
        changed,
        "resolved; the post-mortem draft and the resolution notice are where it was worked on",
    )
    ref = changed.incident.ref
    notice_post = texts.render_markdown("Resolution notice", f"```\n{notice}\n```")
    draft = Document(f"{ref}-postmortem.md", f"Post-mortem draft for {ref}", markdown)
    return replace(outcome, thread=outcome.thread + (notice_post,), files=(draft,))


def reopen(deps: Deps, number: int, why: str | None, actor: str) -> Outcome:
    """Open again: its channel kept, or a new one for one archived."""
    now = deps.clock()
    changed = service.reopen(deps.store, deps.settings, number, actor=actor, why=why, now=now)
    incident = room.reopened(deps, changed.incident, now)
    return outcome_of(replace(changed, incident=incident), "reopened; it is investigating again")


def write_postmortem(deps: Deps, incident: Incident, now: datetime) -> tuple[str, str]:
    markdown = postmortem_text(deps, incident)
    entries = deps.store.incidents.timeline(incident.number)
    notice = texts.resolution_notice(incident, deps.settings, entries)
    deps.store.followups.save_postmortem(incident.number, markdown, notice, now)
    return markdown, notice


def postmortem_text(deps: Deps, incident: Incident) -> str:
    entries = deps.store.incidents.timeline(incident.number)
    actions = deps.store.followups.actions(incident.number)
    names = deps.store.people.names(people_in(incident, entries, actions))
    return texts.postmortem_markdown(incident, entries, actions, deps.settings, names)


def people_in(incident: Incident, entries: list[Entry], actions: list[ActionItem]) -> list[str]:
    """Everyone an incident's record mentions, whose display names the post-mortem shows."""
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


def learn_names(deps: Deps, ref: int | None, more: list[str], channel: str | None = None) -> None:
    """Ask Slack, before the change's transaction, for the names a post-mortem will show."""
    try:
        incident = service.find_incident(deps.store, ref, channel)
    except UserError:
        return  # the command itself says what is wrong
    entries, actions = (
        deps.store.incidents.timeline(incident.number),
        deps.store.followups.actions(incident.number),
    )
    people.learn(deps, [*more, *people_in(incident, entries, actions)])


def publish(outcome: Outcome, deps: Deps) -> None:
    """Owe the outcome's effects: the card (posted the first time, refreshed after), the
    thread lines, PagerDuty, and files, as outbox rows. Call it inside the change's
    transaction (Store.atomic), so the change and its effects commit together."""
    if outcome.incident is None:
        return
    incident = outcome.incident
    effects.card(deps, incident.number)
    # before its lines, so they go to its channel when it gets one
    room.follow(
        deps,
        incident,
        resolved=outcome.pager == "resolve",
        private=outcome.private,
        newcomers=outcome.newcomers,
    )
    for reply in outcome.thread:
        effects.thread(deps, incident.number, reply)
    if outcome.pager and incident.breached_at:  # it was paged: tell PagerDuty too
        outside.pager(deps, incident, outcome.pager)
    if outcome.pager == "resolve":
        outside.resolved_everywhere(deps, incident)
    for document in outcome.files:
        effects.file(deps, incident.number, document.filename, document.title, document.content)
    if outcome.files:
        room.bookmark_files(deps, incident)
