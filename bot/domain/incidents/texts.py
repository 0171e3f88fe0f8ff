"""What an incident says outside its card: the one-line summary lists and digests use, its
timeline lines, the plan's notices (investigating, resolved), the commander's reminder, the
still-open nudge and the post-mortem draft. Pure: the clock comes in as `now`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.config import Settings
from bot.domain.incidents.card import SNOOZE, holder
from bot.domain.incidents.steps import participants, phases, pinned, steps_done
from bot.domain.incidents.targets import judged, response_target, target_met
from bot.replies import (
    Reply,
    blocks,
    buttons,
    clip,
    context,
    hhmm,
    markdown,
    mention,
    section,
    span,
    when,
)
from bot.slacktext import plain
from bot.store import ActionItem, Entry, Incident

MESSAGE_TEXT_BUDGET = 10_000  # chat.postMessage fails near 13k chars of block text


SECTION_CHUNK = 2_900


def incident_summary(incidents: list[Incident], total: int, title_limit: int = 60) -> list[str]:
    """Short lines for the Home tab, digests and handovers, with "and N more" when cut."""
    lines = [f"{i.ref} {i.severity} {clip(i.title, title_limit)} ({i.status})" for i in incidents]
    if total > len(incidents):
        lines.append(f"…and {total - len(incidents)} more: `/incident list`")
    return lines


def timeline_line(entry: Entry, settings: Settings) -> str:
    who = mention(entry.actor) if entry.actor else "opsbot"
    number = f"#{entry.seq} " if entry.seq else ""
    edited = " _(edited)_" if entry.edited_at else ""
    return f"{number}`{when(entry.at, settings.tz)}` {who} · {entry.text}{edited}"


def postmortem_markdown(
    incident: Incident,
    entries: list[Entry],
    actions: list[ActionItem],
    settings: Settings,
    names: Mapping[str, str] | None = None,
) -> str:
    """The draft organised by the plan's six response steps, prefilled from the timeline;
    people by their display name in `names` (a file is read outside Slack), else by id."""
    tz, level = settings.tz, settings.severities[incident.severity]
    target = span(response_target(incident, settings))
    result = judged(incident, settings)
    met = {True: "met", False: "missed", None: "not acknowledged"}[target_met(incident, settings)]
    against = f"a response target of {span(result.target)} ({met})"
    if result.differs(incident):
        against = (
            f"the {result.severity} response target of {span(result.target)} ({met}; the "
            f"severity was {result.severity} then, changed to {incident.severity} since)"
        )
    tta = span(incident.acked_at - incident.opened_at) if incident.acked_at else "—"
    ttr = span(incident.resolved_at - incident.opened_at) if incident.resolved_at else "ongoing"
    done = steps_done(entries)
    people = ", ".join(mention(p) for p in participants(incident, entries))
    lines = [
        f"# Post-mortem: {incident.ref} {incident.title}",
        "",
        f"**Severity:** {incident.severity} {level.label} ({level.description}); "
        f"response target {target}",
        f"**Commander:** {mention(incident.commander)} · **Communications:** "
        f"{holder(incident.comms_lead)} · **Status:** {incident.status}",
        f"**Participants:** {people}",
        "",
        "## Times",
        f"- Opened: {when(incident.opened_at, tz)} by {mention(incident.opened_by)}",
        f"- Acknowledged: {when(incident.acked_at, tz)}"
        + (f" by {mention(incident.acked_by)}" if incident.acked_by else ""),
        f"- Mitigated: {when(incident.mitigated_at, tz)}",
        f"- Resolved: {when(incident.resolved_at, tz)}",
        f"- Time to acknowledge: {tta} against {against}",
        f"- Time to resolve: {ttr}",
        "",
        "## Impact",
        *(pinned(entries, "impact") or ["_Who was affected, how, and for how long._"]),
        "",
        "## Root cause",
        *(
            pinned(entries, "root cause")
            or ["_What caused it, and why it was not caught earlier._"]
        ),
        "",
        "## Resolution",
        incident.summary or "_What was done to resolve it._",
        "",
        "## Response steps",
    ]
    for number, (step, phase) in enumerate(phases(entries).items(), start=1):
        mark = "x" if done[step] else " "
        lines.append(f"### {number}. [{mark}] {step}")
        lines.extend(f"- {timeline_line(e, settings)}" for e in phase)
        lines.append("" if phase else "- _nothing recorded_\n")
    lines += ["## Action items"]
    lines += [
        f"- [{'x' if a.done_at else ' '}] A{a.id} {a.text} · owner {mention(a.owner)}"
        + (f" · due {a.due}" if a.due else "")
        for a in actions
    ] or ["- [ ] _Action, owner, due date_ (add with `/incident action`)"]
    lines.append("- [ ] Update the runbooks with what was learned")
    # A file, read outside Slack: its markup becomes plain text (entities, links, names).
    return plain("\n".join(lines), names=names)


def told_as(incident: Incident) -> str:
    """What users are told the incident is: the public title once the commander set one
    (Slack's markup still: it is converted where the notice leaves Slack)."""
    return incident.public_title or incident.title


def resolution_notice(
    incident: Incident, settings: Settings, entries: list[Entry] | None = None
) -> str:
    """The plan's "[RESOLVED] Service Disruption" template, filled in: the impact and root
    cause from what was pinned as such (or given when resolving with the form)."""
    tz = settings.tz
    impact = "; ".join(pinned(entries or [], "impact")) or "[Description]"
    cause = "; ".join(pinned(entries or [], "root cause")) or "[Brief explanation]"
    end = incident.resolved_at or incident.opened_at
    return "\n".join(
        [
            f"Subject: [RESOLVED] Service Disruption - {end.astimezone(tz):%Y-%m-%d}",
            "",
            f"We experienced a service disruption affecting {told_as(incident)}",
            f"from {when(incident.opened_at, tz)} to {when(incident.resolved_at, tz)}.",
            "",
            f"Impact: {impact}",
            f"Root Cause: {cause}",
            f"Resolution: {incident.summary or '[What was done]'}",
            "",
            "We apologize for the inconvenience.",
        ]
    )


def render_comms(
    incident: Incident, settings: Settings, now: datetime, entries: list[Entry] | None = None
) -> Reply:
    """The plan's user notification, ongoing or resolved, for the commander to copy or post;
    the impact (and root cause) as pinned, when they were."""
    tz = settings.tz
    impact = "; ".join(pinned(entries or [], "impact")) or "[Description]"
    if incident.is_open:
        next_update = now + timedelta(minutes=settings.reminders.status_update_minutes)
        draft = "\n".join(
            [
                f"Subject: [INVESTIGATING] Service Disruption - {now.astimezone(tz):%Y-%m-%d}",
                "",
                f"We are experiencing a service disruption affecting {told_as(incident)}",
                f"since {when(incident.opened_at, tz)}. Our team is {incident.status} and working",
                "on a fix.",
                "",
                f"Impact: {impact}",
                f"Next update: by {hhmm(next_update, tz)}",
                "",
                "We apologize for the inconvenience.",
            ]
        )
    else:
        draft = resolution_notice(incident, settings, entries)
    return Reply(
        text=f"User notification draft for {incident.ref}",
        blocks=blocks(
            section(f"*User notification draft for {incident.ref}* (the plan's template)"),
            markdown(f"```\n{draft}\n```"),
            context(
                "Copy it to the status page, in-app banner or email; "
                "`/incident update` records that you did."
            ),
        ),
    )


def render_reminder(
    incident: Incident,
    settings: Settings,
    now: datetime,
    *,
    status_due: bool,
    public_due: bool,
    last_update: datetime | None = None,
    last_public: datetime | None = None,
) -> Reply:
    """The one reminder to the commander: what is due (a status update for the team, a public
    status update, or both), with snooze buttons that hold off both."""

    def since(moment: datetime | None) -> str:
        return f"the last one was {span(now - moment)} ago" if moment else "none yet"

    due = []
    if status_due:
        due.append(
            f"a status update for the team (`/incident update {incident.ref} <text>`; "
            f"{since(last_update)})"
        )
    if public_due:
        due.append(
            f"a public status update (`/incident public {incident.ref} <text>`; "
            f"{since(last_public)})"
        )
    choices = [
        (f"{SNOOZE}.{m}", f"Snooze {m} min", str(incident.number), None)
        for m in settings.reminders.snooze_minutes
    ]
    text = (
        f":alarm_clock: {incident.ref} ({incident.severity}) is still {incident.status} after "
        f"{span(now - incident.opened_at)}. Due: {' and '.join(due)}."
    )
    return Reply(
        text=text,
        blocks=blocks(
            section(text),
            buttons(choices, block_id=f"incident.reminder.{incident.number}"),
            context("Snooze holds off status and public update reminders alike."),
        ),
    )


def render_still_open(incident: Incident, now: datetime) -> Reply:
    return Reply(
        f":hourglass: {incident.ref} has been open for {span(now - incident.opened_at)}. "
        f"Still happening? Post an update, or `/incident resolve {incident.ref}`."
    )


def render_markdown(title: str, document: str) -> Reply:
    """A Markdown document (post-mortem, notice) as one markdown block, cut to fit a message."""
    if len(document) > MESSAGE_TEXT_BUDGET:
        document = (
            clip(document, MESSAGE_TEXT_BUDGET - 80) + "\n\n_(cut here to fit Slack; the "
            "whole draft is stored)_"
        )
    return Reply(text=title, public=True, blocks=blocks(markdown(document)))
