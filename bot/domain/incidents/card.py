"""The incident's card, as it is posted and updated in the incidents channel: severity, response
target with its countdown, status, roles, who is on call, the alerts it took in, and a
button per response step of the plan. Pure: the clock comes in as `now`."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.domain.incidents.steps import STEPS, steps_done
from bot.domain.incidents.targets import judged, target_met
from bot.replies import (
    Reply,
    blocks,
    buttons,
    context,
    header,
    mention,
    moment_of,
    section,
    span,
    when,
)
from bot.store import Entry, Incident

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


# Buttons that open a small form: a status update, a severity change. (Resolve, a step
# button above, opens one too.)
UPDATE_FORM = "incident.form.update"
SEVERITY_FORM = "incident.form.severity"

# The App Home's button that opens the declare form.
DECLARE_FORM = "incident.form.declare"


SNOOZE = "incident.snooze"  # + ".<minutes>"


def holder(user: str | None) -> str:
    return mention(user) if user else "unassigned"


def icon(incident: Incident) -> str:
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
        f"*Communications*\n{holder(incident.comms_lead)}",
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
            header(f"{icon(incident)} {_title(incident, settings)}"),
            section("", fields),
            buttons(steps, block_id=f"incident.steps.{incident.number}"),
            buttons(
                [
                    (TAKE_COMMAND, "Take command", str(incident.number), None),
                    (TAKE_COMMS, "Take comms", str(incident.number), None),
                    (UPDATE_FORM, "Post update", str(incident.number), None),
                    (SEVERITY_FORM, "Change severity", str(incident.number), None),
                ],
                block_id=f"incident.roles.{incident.number}",
            )
            if incident.is_open
            else None,
            context(f"{war_room(incident)} `/incident help` for commands."),
        ),
    )


def war_room(incident: Incident) -> str:
    if incident.room_id and incident.room_archived_at:
        return f"The war room was <#{incident.room_id}> (archived)."
    if incident.room_id:
        return f"The war room is <#{incident.room_id}>."
    return "The thread below is the war room."


def alert_states(entries: list[Entry]) -> dict[str, str]:
    """Each alert on the timeline and its latest state (entries "alert:<id>:<state>:<n>")."""
    states: dict[str, str] = {}
    for entry in entries:
        if entry.kind == "alert" and entry.source and entry.source.startswith("alert:"):
            _, alert, state, _n = entry.source.split(":", 3)
            states[alert] = state
    return states
