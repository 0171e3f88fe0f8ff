"""Incident -> Reply. Pure: no store, no Slack client; the clock comes in as `now`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.config import Settings
from bot.replies import (
    Reply,
    ago,
    blocks,
    buttons,
    clip,
    context,
    divider,
    header,
    hhmm,
    markdown,
    mention,
    moment_of,
    section,
    span,
    when,
)
from bot.slacktext import plain
from bot.store import ActionItem, Entry, Incident
from commands.incident.parse import List as ListArgs
from commands.incident.service import (
    STEPS,
    judged,
    participants,
    phases,
    pinned,
    response_target,
    steps_done,
    target_met,
)

MESSAGE_TEXT_BUDGET = 10_000  # chat.postMessage fails near 13k chars of block text
SECTION_CHUNK = 2_900
ICONS = {"P0": ":red_circle:", "P1": ":large_orange_circle:", "P2": ":large_yellow_circle:"}
# Button action ids, one per response step of the plan.
STEP_ACTIONS = {
    "Acknowledge": "incident.ack",
    "Investigate": "incident.investigate",
    "Mitigate": "incident.mitigate",
    "Communicate": "incident.communicate",
    "Resolve": "incident.resolve",
    "Post-mortem": "incident.postmortem",
}
TAKE_COMMAND = "incident.take.commander"
TAKE_COMMS = "incident.take.comms"
SNOOZE = "incident.snooze"  # + ".<minutes>"


def _holder(user: str | None) -> str:
    return mention(user) if user else "unassigned"


def _icon(incident: Incident) -> str:
    return (
        ":white_check_mark:"
        if not incident.is_open
        else ICONS.get(incident.severity, ":white_circle:")
    )


def _title(incident: Incident, settings: Settings) -> str:
    label = settings.severities[incident.severity].label
    return f"{incident.ref} · {incident.severity} {label} · {incident.title}"


def target_line(incident: Incident, settings: Settings, now: datetime) -> str:
    """The response target and how it went, judged at the severity in force when it was met
    or missed; a later change of severity is said, not applied to the past."""
    tz, level = settings.tz, judged(incident, settings)
    target = span(level.target)
    deadline = incident.opened_at + level.target
    changed = ""
    if level.differs(incident):
        target = f"{target} as {level.severity}"
        changed = f" · severity since changed to {incident.severity}"
    if incident.acked_at is not None:
        met = ":white_check_mark: met" if target_met(incident, settings) else ":x: missed"
        took = span(incident.acked_at - incident.opened_at)
        acked = moment_of(incident.acked_at, tz, now)
        return f"{target} · acked {acked} after {took} ({met}){changed}"
    if not incident.is_open:
        return f"{target} · never acknowledged{changed}"
    if now >= deadline or target_met(incident, settings) is False:
        since = moment_of(deadline, tz, now)
        return f"{target} · :rotating_light: target missed: ack overdue since {since}{changed}"
    return f"{target} · ack due {moment_of(deadline, tz, now)} ({span(deadline - now)} left)"


def render_card(
    incident: Incident,
    settings: Settings,
    *,
    oncall: str | None,
    entries: list[Entry],
    now: datetime,
) -> Reply:
    """The announcement card in the incidents channel, updated in place as the incident moves."""
    level = settings.severities[incident.severity]
    done = steps_done(entries)
    fields = [
        f"*Status*\n{incident.status.capitalize()}",
        f"*Severity*\n{incident.severity} {level.label}: {level.description}",
        f"*Response target*\n{target_line(incident, settings, now)}",
        f"*Commander*\n{mention(incident.commander)}",
        f"*Communications*\n{_holder(incident.comms_lead)}",
        f"*On call*\n{mention(oncall) if oncall else 'not configured'}",
        f"*Opened*\n{when(incident.opened_at, settings.tz)}",
    ]
    public = [e for e in entries if e.kind == "communicate" and e.text.startswith("Public update")]
    if public:
        last = moment_of(public[-1].at, settings.tz, now)
        # a resolved card is not refreshed: an "ago" on it would freeze
        ago = f" ({span(now - public[-1].at)} ago)" if incident.is_open else ""
        fields.append(f"*Last public update*\n{last}{ago}")
    alerts = alert_states(entries)
    if alerts:
        firing = sum(1 for state in alerts.values() if state != "resolved")
        fields.append(f"*Alerts*\n{firing} firing · {len(alerts) - firing} resolved")
    if incident.resolved_at:
        took = span(incident.resolved_at - incident.opened_at)
        fields.append(f"*Resolved*\n{when(incident.resolved_at, settings.tz)} after {took}")
    steps = [
        (
            STEP_ACTIONS[step],
            ("✓ " if done[step] else "") + step,
            str(incident.number),
            "primary" if step == "Acknowledge" and not done[step] else None,
        )
        for step in STEPS
        if incident.is_open or step == "Post-mortem"
    ]
    text = f"{incident.ref} {incident.severity} {level.label}: {incident.title} ({incident.status})"
    return Reply(
        text=text,
        public=True,
        blocks=blocks(
            header(f"{_icon(incident)} {_title(incident, settings)}"),
            section("", fields),
            buttons(steps, block_id=f"incident.steps.{incident.number}"),
            buttons(
                [
                    (TAKE_COMMAND, "Take command", str(incident.number), None),
                    (TAKE_COMMS, "Take comms", str(incident.number), None),
                ],
                block_id=f"incident.roles.{incident.number}",
            )
            if incident.is_open
            else None,
            context("The thread below is the war room. `/incident help` for commands."),
        ),
    )


def alert_states(entries: list[Entry]) -> dict[str, str]:
    """Each alert on the timeline and its latest state (entries "alert:<id>:<state>:<n>")."""
    states: dict[str, str] = {}
    for entry in entries:
        if entry.kind == "alert" and entry.source and entry.source.startswith("alert:"):
            _, alert, state, _n = entry.source.split(":", 3)
            states[alert] = state
    return states


def render_opened(incident: Incident, channel: str, *, defaulted: bool = False) -> Reply:
    """The answer to opening: given before the card is posted (the outbox posts it after the
    commit), so it says the card is on its way; "Announced in" is the card's own entry.
    `defaulted`: no severity was given, and the answer says the one chosen is a default."""
    default = (
        f" (no severity given, so the default; `/incident sev {incident.ref} P1` changes it)"
        if defaulted
        else ""
    )
    return Reply(
        text=f":rotating_light: {incident.ref} opened as {incident.severity}{default}: "
        f"{incident.title} (announcing in {channel})."
    )


def render_done(incident: Incident, what: str) -> Reply:
    return Reply(text=f"{incident.ref}: {what}.")


LIST_PAGE = 20  # incidents per `/incident list` page
LIST_TITLE = 80  # a title in a list: the card has the whole of it


def render_list(
    incidents: list[Incident],
    settings: Settings,
    *,
    total: int,
    args: ListArgs,
    now: datetime,
) -> Reply:
    """One page of incidents (open ones most severe first), saying how many there are in all
    and how to see the rest: a list never hides an incident without saying so."""
    noun = "incident" if total == 1 else "incidents"
    scope = (noun if args.everything else f"open {noun}") + (
        f" at {args.severity}" if args.severity else ""
    )
    if not incidents:
        return Reply(text=f"No {scope}" + (f" on page {args.page}." if args.page > 1 else "."))
    first = (args.page - 1) * LIST_PAGE + 1
    last = first + len(incidents) - 1
    lines = [
        f"{_icon(i)} *{i.ref}* {i.severity} · {i.status} · {clip(i.title, LIST_TITLE)} · lead "
        f"{mention(i.commander)} · opened {ago(now - i.opened_at)}"
        for i in incidents
    ]
    shown = f" (showing {first}–{last})" if total > len(incidents) else ""
    more = None
    if last < total:
        again = " ".join(w for w in ("all" if args.everything else "", args.severity or "") if w)
        command = f"`/incident list {again + ' ' if again else ''}page {args.page + 1}`"
        narrow = "" if args.severity else " · one severity: `/incident list P1`"
        more = context(f"…and {total - last} more: {command}{narrow}")
    return Reply(
        text=f"{total} {scope}{shown}",
        blocks=blocks(
            section(f"*{total} {scope}*{shown}"), *(section(line) for line in lines), more
        ),
    )


def incident_summary(incidents: list[Incident], total: int, title_limit: int = 60) -> list[str]:
    """Short lines for the Home tab, digests and handovers, with "and N more" when cut."""
    lines = [f"{i.ref} {i.severity} {clip(i.title, title_limit)} ({i.status})" for i in incidents]
    if total > len(incidents):
        lines.append(f"…and {total - len(incidents)} more: `/incident list`")
    return lines


def render_timeline(incident: Incident, entries: list[Entry], settings: Settings) -> Reply:
    """The latest entries that fit one message (Slack refuses ~13k chars of blocks)."""
    lines: list[str] = []
    budget = MESSAGE_TEXT_BUDGET
    for entry in reversed(entries):
        line = clip(timeline_line(entry, settings), SECTION_CHUNK)
        if len(line) + 1 > budget:
            break
        budget -= len(line) + 1
        lines.insert(0, line)
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + len(line) + 1 <= SECTION_CHUNK:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    left_out = len(entries) - len(lines)
    return Reply(
        text=f"Timeline of {incident.ref} ({len(entries)} entries)",
        blocks=blocks(
            section(f"*Timeline of {incident.ref}: {incident.title}*"),
            *(section(chunk) for chunk in chunks),
            context(f"The {left_out} earlier entries are in `/incident postmortem {incident.ref}`.")
            if left_out
            else None,
        ),
    )


def timeline_line(entry: Entry, settings: Settings) -> str:
    who = mention(entry.actor) if entry.actor else "opsbot"
    number = f"#{entry.seq} " if entry.seq else ""
    edited = " _(edited)_" if entry.edited_at else ""
    return f"{number}`{when(entry.at, settings.tz)}` {who} · {entry.text}{edited}"


def render_show(
    incident: Incident,
    entries: list[Entry],
    settings: Settings,
    *,
    oncall: str | None,
    now: datetime,
) -> Reply:
    card = render_card(incident, settings, oncall=oncall, entries=entries, now=now)
    recent = "\n".join(timeline_line(e, settings) for e in entries[-8:])
    # the card's own buttons too: wherever the card is shown, it can be worked from
    shown = [b for b in card.blocks if b["type"] in ("header", "section", "actions")]
    return Reply(
        text=card.text,
        blocks=[
            *shown,
            *blocks(
                divider(),
                section(f"*Latest on the timeline*\n{recent}"),
                context(f"`/incident timeline {incident.ref}` for all {len(entries)} entries."),
            ),
        ],
    )


def render_markdown(title: str, document: str) -> Reply:
    """A Markdown document (post-mortem, notice) as one markdown block, cut to fit a message."""
    if len(document) > MESSAGE_TEXT_BUDGET:
        document = (
            clip(document, MESSAGE_TEXT_BUDGET - 80) + "\n\n_(cut here to fit Slack; the "
            "whole draft is stored)_"
        )
    return Reply(text=title, public=True, blocks=blocks(markdown(document)))


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
        f"{_holder(incident.comms_lead)} · **Status:** {incident.status}",
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


def resolution_notice(incident: Incident, settings: Settings) -> str:
    """The plan's "[RESOLVED] Service Disruption" template, filled in."""
    tz = settings.tz
    end = incident.resolved_at or incident.opened_at
    return "\n".join(
        [
            f"Subject: [RESOLVED] Service Disruption - {end.astimezone(tz):%Y-%m-%d}",
            "",
            f"We experienced a service disruption affecting {told_as(incident)}",
            f"from {when(incident.opened_at, tz)} to {when(incident.resolved_at, tz)}.",
            "",
            "Impact: [Description]",
            "Root Cause: [Brief explanation]",
            f"Resolution: {incident.summary or '[What was done]'}",
            "",
            "We apologize for the inconvenience.",
        ]
    )


def render_actions(incident: Incident, items: list[ActionItem]) -> Reply:
    if not items:
        return Reply(
            text=f"{incident.ref} has no action items. Add one with "
            f"`/incident action {incident.ref} @owner <text> [due YYYY-MM-DD]`."
        )
    lines = [
        f"{'✓' if a.done_at else '•'} *A{a.id}* {a.text} · {mention(a.owner)}"
        + (f" · due {a.due}" if a.due else "")
        for a in items
    ]
    open_count = sum(1 for a in items if not a.done_at)
    return Reply(
        text=f"Action items of {incident.ref}",
        blocks=blocks(
            section(f"*Action items of {incident.ref}* ({open_count} open)\n" + "\n".join(lines)),
            buttons(
                [(REMIND_OWNERS, "Remind owners", str(incident.number), None)],
                block_id=f"incident.actions.{incident.number}",
            )
            if open_count
            else None,
        ),
    )


REMIND_OWNERS = "incident.remind_owners"


def render_owner_reminder(incident: Incident, items: list[ActionItem]) -> Reply:
    lines = [
        f"• A{a.id} {a.text} · {mention(a.owner)}" + (f" · due {a.due}" if a.due else "")
        for a in items
        if not a.done_at
    ]
    return Reply(f":memo: Open action items of {incident.ref}:\n" + "\n".join(lines))


def render_comms(incident: Incident, settings: Settings, now: datetime) -> Reply:
    """The plan's user notification, ongoing or resolved, for the commander to copy or post."""
    tz = settings.tz
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
                "Impact: [Description]",
                f"Next update: by {hhmm(next_update, tz)}",
                "",
                "We apologize for the inconvenience.",
            ]
        )
    else:
        draft = resolution_notice(incident, settings)
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
