"""On-call results -> Reply. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.domain.incidents.texts import incident_summary
from bot.domain.oncall import Status
from bot.domain.oncall.schedule import Shift
from bot.replies import Reply, blocks, buttons, context, mention, section, span, when
from bot.store import Incident

SWAP_ACCEPT = "oncall.swap.accept"
SWAP_DECLINE = "oncall.swap.decline"


def _shift(shift: Shift, settings: Settings) -> str:
    tz = settings.tz
    note = " (override)" if shift.override else ""
    return f"{mention(shift.user)}{note}: {when(shift.start, tz)} → {when(shift.end, tz)}"


def render_status(status: Status, settings: Settings, now: datetime, caller: str) -> Reply:
    if status.now is None:
        return Reply("Nobody is on call: no rotation is set. `/oncall set @a @b @c` sets one.")
    current = status.now
    lines = [
        f":pager: *On call now:* {mention(current.user)} since {when(current.start, settings.tz)}, "
        f"until {when(current.end, settings.tz)} ({span(current.end - now)} left)"
    ]
    if status.next:
        lines.append(
            f"*Next:* {mention(status.next.user)} from {when(status.next.start, settings.tz)}"
        )
    if status.mine and status.mine.start <= now:
        lines.append("*You* are on call now.")
    elif status.mine:
        lines.append(
            f"*Your next shift:* {when(status.mine.start, settings.tz)} → "
            f"{when(status.mine.end, settings.tz)}"
        )
    else:
        lines.append("*You* have no shift in the next 26 weeks.")
    lines.append(f"*Escalation:* {_contact(status.escalation)}")
    return Reply("\n".join(lines))


def _contact(value: str) -> str:
    return mention(value) if value else "not configured"


def render_schedule(shifts: list[Shift], settings: Settings, weeks: int) -> Reply:
    if not shifts:
        return Reply("No rotation is set. `/oncall set @a @b @c` sets one.")
    lines = "\n".join("• " + _shift(s, settings) for s in shifts)
    return Reply(
        f"On-call schedule, next {weeks} weeks",
        blocks=blocks(
            section(f"*On-call schedule, next {weeks} weeks* ({settings.timezone})\n{lines}")
        ),
    )


def render_contacts(settings: Settings) -> Reply:
    o = settings.oncall
    return Reply(
        "\n".join(
            [
                "*Contacts* (the plan's escalation path)",
                f"• Escalation: {_contact(o.escalation)}",
                f"• Infrastructure: {_contact(o.infrastructure)}",
                f"• Security: {_contact(o.security)}",
            ]
        )
    )


def render_swap_request(
    swap: int, give: Shift, take: Shift, target: str, settings: Settings
) -> Reply:
    tz = settings.tz
    text = (
        f":arrows_counterclockwise: {mention(give.user)} asks {mention(target)} to swap two "
        f"whole shifts: {mention(target)} takes {when(give.start, tz)} → {when(give.end, tz)} "
        f"({span(give.end - give.start)}), and {mention(give.user)} takes "
        f"{when(take.start, tz)} → {when(take.end, tz)} ({span(take.end - take.start)})."
    )
    return Reply(
        text,
        public=True,
        blocks=blocks(
            section(text),
            buttons(
                [
                    (SWAP_ACCEPT, "Accept", str(swap), "primary"),
                    (SWAP_DECLINE, "Decline", str(swap), None),
                ],
                block_id=f"oncall.swap.{swap}",
            ),
            context(f"Only {mention(target)} can answer. Nothing changes until they accept."),
        ),
    )


def render_handover(
    outgoing: str | None,
    incoming: str,
    until: datetime,
    open_incidents: list[Incident],
    overdue: list[str],
    settings: Settings,
) -> Reply:
    lines = [
        f":handshake: *On-call handover:* {mention(incoming)} is on call until "
        f"{when(until, settings.tz)}"
        + (f", taking over from {mention(outgoing)}." if outgoing else ".")
    ]
    if open_incidents:
        shown = open_incidents[:10]
        lines.append("*Open incidents:* " + "; ".join(incident_summary(shown, len(open_incidents))))
    else:
        lines.append("No open incidents.")
    if overdue:
        lines.append("*Overdue action items:* " + "; ".join(overdue))
    return Reply("\n".join(lines))
