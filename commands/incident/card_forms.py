"""The card's small forms: a status update (internal, or public on the status page too), a
severity change, and resolve (summary, root cause and impact, which fill the post-mortem).

A button opens its form with the one Slack call made while Slack waits (views.open: the
trigger_id works once, within 3 s); the incident's number rides in the form's
private_metadata. A submission makes its change as the command would, in one transaction:
what is wrong is said under its field (response_action: errors) and nothing is changed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.deps import Deps
from bot.domain.incidents import card, service
from bot.domain.incidents.outcome import (
    Outcome,
    learn_names,
    outcome_of,
    publish,
    resolve,
    thread_line,
)
from bot.failures import failure_text
from bot.replies import Reply, UserError
from bot.store import Entry, Incident, StoreBusy, StoreUnwritable
from commands.incident import comms
from commands.incident.args import Public
from commands.incident.modals import busy, field, option, severity_options

log = logging.getLogger(__name__)

UPDATE_VIEW, SEVERITY_VIEW, RESOLVE_VIEW = (
    "incident.update",
    "incident.severity",
    "incident.resolved",
)
STATUS, TEXT, AUDIENCE, LEVEL, WHY = "status", "text", "audience", "level", "why"
SUMMARY, ROOT_CAUSE, IMPACT = "summary", "root_cause", "impact"
KEEP = "keep"  # the update form's status: as it is
TEXT_MAX = 3000  # a plain-text input's limit


class Refused(Exception):
    """What is wrong with a submission, said under the field `block`."""

    def __init__(self, block: str, text: str) -> None:
        super().__init__(text)
        self.block, self.text = block, text


def _long(label: str, block: str, *, optional: bool, hint: str) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "multiline": True,
        "max_length": TEXT_MAX,
        "placeholder": {"type": "plain_text", "text": hint},
    }
    return field(block, label, element, optional=optional)


def _view(callback: str, title: str, submit: str, incident: Incident, blocks: list[Any]) -> Any:
    return {
        "type": "modal",
        "callback_id": callback,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"*{incident.ref}* · {incident.title}"}],
            },
            *blocks,
        ],
        "private_metadata": str(incident.number),
    }


def update_view(settings: Settings, incident: Incident) -> Any:
    keep = option(f"Keep: {incident.status}", KEEP)
    statuses = [keep, *(option(s.capitalize(), s) for s in service.NEXT_STATUSES[incident.status])]
    audiences = [
        option("Internal: the timeline and the war room", "internal"),
        option("Public: the status page too", "public"),
    ]
    blocks = [
        field(
            STATUS, "Status", {"type": "static_select", "options": statuses, "initial_option": keep}
        ),
        _long("What changed", TEXT, optional=False, hint="Rolled back v1.4.2; errors falling."),
        field(
            AUDIENCE,
            "Who sees it",
            {"type": "radio_buttons", "options": audiences, "initial_option": audiences[0]},
        ),
    ]
    return _view(UPDATE_VIEW, "Post an update", "Post", incident, blocks)


def severity_view(settings: Settings, incident: Incident) -> Any:
    levels = severity_options(settings)
    current = next(o for o in levels if o["value"] == incident.severity)
    blocks = [
        field(
            LEVEL,
            "Severity",
            {"type": "static_select", "options": levels, "initial_option": current},
        ),
        _long("Why", WHY, optional=True, hint="Checkout is down for every user now."),
    ]
    return _view(SEVERITY_VIEW, "Change severity", "Change", incident, blocks)


def resolve_view(settings: Settings, incident: Incident) -> Any:
    blocks = [
        _long("Summary", SUMMARY, optional=True, hint="Reverted v1.4.2; logins work again."),
        _long("Root cause", ROOT_CAUSE, optional=True, hint="What made it happen."),
        _long("Impact", IMPACT, optional=True, hint="Who was affected, how, for how long."),
    ]
    return _view(RESOLVE_VIEW, f"Resolve {incident.ref}", "Resolve", incident, blocks)


@dataclass(frozen=True)
class Form:
    view: Callable[[Settings, Incident], Any]
    submit: Callable[[Deps, int, dict[str, str], str], tuple[Outcome, ...]]


def _answers(view: dict[str, Any]) -> dict[str, str]:
    """Each field's answer as text: a select's or a radio's chosen value, a text as typed."""
    answers: dict[str, str] = {}
    for block, by_action in ((view.get("state") or {}).get("values") or {}).items():
        for value in by_action.values():
            chosen = value.get("selected_option") or {}
            answers[block] = str(chosen.get("value") or value.get("value") or "").strip()
    return answers


def _update(deps: Deps, number: int, answers: dict[str, str], actor: str) -> tuple[Outcome, ...]:
    text, status = answers.get(TEXT, ""), answers.get(STATUS, KEEP)
    incident = deps.store.incidents.incident(number)
    if incident is None or not incident.is_open:  # resolved since the form opened
        raise Refused(TEXT, f"INC-{number} is resolved: nothing was posted.")
    if not text:
        raise Refused(TEXT, "Say what changed, e.g. Rolled back v1.4.2; errors falling.")
    now, done = deps.clock(), []
    if status != KEEP:
        if status not in service.NEXT_STATUSES:
            raise Refused(STATUS, "Choose one of the statuses listed.")
        try:
            changed = service.set_status(
                deps.store, deps.settings, number, status, actor=actor, now=now
            )
        except UserError as exc:
            raise Refused(STATUS, str(exc)) from None
        done.append(outcome_of(changed, f"status is now {status}"))
    if answers.get(AUDIENCE) == "public":  # as `/incident public` does it
        done.append(comms.public(deps, number, Public(text, number), actor))
    else:
        changed = service.post_update(deps.store, deps.settings, number, text, actor=actor, now=now)
        done.append(outcome_of(changed, "update added to the timeline"))
    return tuple(done)


def _severity(deps: Deps, number: int, answers: dict[str, str], actor: str) -> tuple[Outcome, ...]:
    level, why = answers.get(LEVEL, ""), answers.get(WHY, "")
    if level not in deps.settings.severities:
        raise Refused(LEVEL, "Choose one of the plan's severities.")
    try:
        changed = service.set_severity(
            deps.store, deps.settings, number, level, actor=actor, now=deps.clock(), why=why
        )
    except UserError as exc:
        raise Refused(LEVEL, str(exc)) from None
    return (outcome_of(changed, f"severity is now {level}"),)


def _resolve(deps: Deps, number: int, answers: dict[str, str], actor: str) -> tuple[Outcome, ...]:
    now, said = deps.clock(), []
    # Pinned as the post-mortem reads them ("Root cause: …"), before the draft is written;
    # said in the war room with the resolution.
    for block, heading in ((ROOT_CAUSE, "Root cause"), (IMPACT, "Impact")):
        if answers.get(block):
            entry = Entry(now, actor, "pin", f"{heading}: {answers[block]}")
            deps.store.incidents.add_entry(number, entry)
            said.append(Reply(thread_line(entry)))
    try:
        resolved = resolve(deps, number, answers.get(SUMMARY) or None, actor)
    except UserError as exc:
        raise Refused(SUMMARY, str(exc)) from None
    return (replace(resolved, thread=(*said, *resolved.thread)),)


FORMS = {
    card.UPDATE_FORM: Form(update_view, _update),
    card.SEVERITY_FORM: Form(severity_view, _severity),
    card.STEP_ACTIONS["Resolve"]: Form(resolve_view, _resolve),
}
BY_VIEW = {UPDATE_VIEW: FORMS[card.UPDATE_FORM], SEVERITY_VIEW: FORMS[card.SEVERITY_FORM]}
BY_VIEW[RESOLVE_VIEW] = FORMS[card.STEP_ACTIONS["Resolve"]]
FIRST_FIELD = {UPDATE_VIEW: TEXT, SEVERITY_VIEW: LEVEL, RESOLVE_VIEW: SUMMARY}


# Listeners --------------------------------------------------------------------------------


def on_button(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    context: dict[str, Any],
) -> None:
    """A card button that opens a form: the form, or one line saying why not."""
    ack()
    deps: Deps = context["deps"]
    form = FORMS[action["action_id"]]
    incident = deps.store.incidents.incident(int(action["value"]))
    if incident is None or not incident.is_open:
        ref = incident.ref if incident else f"INC-{action['value']}"
        respond(text=f"{ref} is resolved; it can no longer change.", response_type="ephemeral")
        return
    try:
        client.views_open(trigger_id=body["trigger_id"], view=form.view(deps.settings, incident))
    except SlackApiError as exc:
        log.warning("a form did not open: %s", failure_text(exc))
        respond(
            text=f"The form did not open ({failure_text(exc)}). `/incident help` has the "
            "command that does the same.",
            response_type="ephemeral",
            replace_original=False,
        )


def on_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
) -> None:
    deps: Deps = context["deps"]
    callback = view["callback_id"]
    try:
        number = int(view.get("private_metadata") or "")
    except ValueError:
        ack(
            response_action="errors", errors={FIRST_FIELD[callback]: "This form lost its incident."}
        )
        return
    actor, answers = body["user"]["id"], _answers(view)
    if callback == RESOLVE_VIEW:  # the post-mortem it writes shows names: asked Slack first
        learn_names(deps, number, [actor])
    try:
        with deps.store.atomic():
            for outcome in BY_VIEW[callback].submit(deps, number, answers, actor):
                publish(outcome, deps)
    except Refused as refused:  # the transaction is undone: nothing changed
        ack(response_action="errors", errors={refused.block: refused.text})
        return
    except (StoreBusy, StoreUnwritable) as exc:
        ack(response_action="errors", errors={FIRST_FIELD[callback]: busy(exc, "changed")})
        return
    ack()
