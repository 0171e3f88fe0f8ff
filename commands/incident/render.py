"""Incident -> Reply. Pure: no store, no Slack client; the clock comes in as `now`."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.domain.incidents.card import icon, render_card
from bot.domain.incidents.texts import MESSAGE_TEXT_BUDGET, SECTION_CHUNK, timeline_line
from bot.replies import (
    Reply,
    ago,
    blocks,
    buttons,
    clip,
    context,
    divider,
    mention,
    section,
)
from bot.store import ActionItem, Entry, Incident
from commands.incident.parse import List as ListArgs


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
        f"{icon(i)} *{i.ref}* {i.severity} · {i.status} · {clip(i.title, LIST_TITLE)} · lead "
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
