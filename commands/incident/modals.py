"""Declaring an incident with a form: `/incident` with no text, and the "Declare incident"
message shortcut (prefilled with the message, which becomes the first timeline entry,
quoted). views.open is the one Slack call made while Slack waits: the trigger_id works once,
within 3 s. The submission opens the incident as `/incident open` does; what is wrong is
said under its field (response_action: errors) and nothing is created."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import people
from bot.config import Settings
from bot.deps import Deps
from bot.domain.incidents import service
from bot.domain.incidents.outcome import Outcome, publish
from bot.failures import failure_text
from bot.replies import clip, span
from bot.slacktext import plain
from bot.store import Entry, StoreBusy, StoreUnwritable
from commands.incident import render
from commands.incident.parse import MAX_TITLE

log = logging.getLogger(__name__)

DECLARE = "incident.declare"  # the modal's callback_id, and the message shortcut's
TITLE, SEVERITY, KNOWN, PRIVATE = "title", "severity", "known", "private"
QUOTE_MAX = 2000  # of the reporting message, kept in the modal's private_metadata
METADATA_MAX = 3000  # Slack's limit for a modal's private_metadata
KNOWN_MAX = 3000  # a plain-text input's limit


@dataclass(frozen=True)
class Declared:
    title: str
    severity: str
    known: str
    private: bool


def declare_view(
    settings: Settings, *, known: str = "", source: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The declare modal: title, severity with the plan's labels and response targets, what is
    known, private or not. `source`: the message it was declared from."""
    levels = severity_options(settings)
    default = next(o for o in levels if o["value"] == settings.default_severity)
    blocks = [
        field(TITLE, "Title", {"type": "plain_text_input", "max_length": MAX_TITLE}),
        field(
            SEVERITY,
            "Severity",
            {"type": "static_select", "options": levels, "initial_option": default},
        ),
        field(
            KNOWN,
            "What is known",
            {"type": "plain_text_input", "multiline": True, "max_length": KNOWN_MAX}
            | ({"initial_value": clip(known, KNOWN_MAX)} if known else {}),
            optional=True,
        ),
        field(
            PRIVATE,
            "Channel",
            {
                "type": "checkboxes",
                "options": [
                    option("Private (Slack never makes a private channel public later)", "yes")
                ],
            },
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": DECLARE,
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
        "private_metadata": metadata(source or {}),
    }


def severity_options(settings: Settings) -> list[dict[str, Any]]:
    """The plan's severities as a select's options, each with its label and target."""
    return [
        option(f"{name} {level.label}: respond within {minutes(level.response_minutes)}", name)
        for name, level in settings.severities.items()
    ]


def metadata(source: dict[str, Any]) -> str:
    """The message declared from, within a modal's 3,000 characters: its quote is cut until
    it fits (JSON escapes a newline or a quote mark in two characters)."""
    kept = dict(source)
    text = str(kept.get("text") or "")
    while True:
        made = json.dumps({**kept, "text": text}, ensure_ascii=False)
        if len(made) <= METADATA_MAX:
            return made
        text = text[: len(text) * 4 // 5]


def minutes(minutes: int) -> str:
    return span(timedelta(minutes=minutes))


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": value}


def field(
    block_id: str, label: str, element: dict[str, Any], optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": block_id},
    }


def read(view: dict[str, Any], settings: Settings) -> tuple[Declared | None, dict[str, str]]:
    """What the form says, or what is wrong with it, by block."""
    values = (view.get("state") or {}).get("values") or {}

    def answer(block: str) -> dict[str, Any]:
        return dict((values.get(block) or {}).get(block) or {})

    title = " ".join(str(answer(TITLE).get("value") or "").split())
    severity = str((answer(SEVERITY).get("selected_option") or {}).get("value") or "")
    errors: dict[str, str] = {}
    if not title:
        errors[TITLE] = "An incident needs a title, e.g. Login broken."
    elif len(title) > MAX_TITLE:
        errors[TITLE] = f"At most {MAX_TITLE} characters (this one has {len(title)})."
    if severity not in settings.severities:
        errors[SEVERITY] = "Choose one of the plan's severities."
    if errors:
        return None, errors
    private = bool(answer(PRIVATE).get("selected_options"))
    known = str(answer(KNOWN).get("value") or "").strip()
    return Declared(title, severity, known, private), {}


# Listeners --------------------------------------------------------------------------------


def open_form(
    deps: Deps, client: WebClient, trigger: str, respond: Respond | None, **prefill: Any
) -> None:
    """The one Slack call while Slack waits; a failure (the trigger expired on a slow host) is
    said to the person, with the command that does the same."""
    try:
        client.views_open(trigger_id=trigger, view=declare_view(deps.settings, **prefill))
    except SlackApiError as exc:
        log.warning("the declare form did not open: %s", failure_text(exc))
        if respond is not None:
            respond(
                text=f"The form did not open ({failure_text(exc)}). Type "
                "`/incident open P1 <title>` instead.",
                response_type="ephemeral",
            )


def form_asked(
    ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond, deps: Deps
) -> bool:
    """`/incident` with no text: the declare form, opened; True when it was asked for."""
    if command.get("text", "").strip():
        return False
    ack()
    open_form(deps, client, command["trigger_id"], respond)
    return True


def on_home_button(
    ack: Ack, body: dict[str, Any], client: WebClient, context: dict[str, Any]
) -> None:
    """The App Home's "Declare an incident": the form (a failure to open it is logged; a
    Home tab has nowhere to answer)."""
    ack()
    open_form(context["deps"], client, body["trigger_id"], None)


def on_shortcut(
    ack: Ack, shortcut: dict[str, Any], client: WebClient, respond: Respond, context: dict[str, Any]
) -> None:
    """ "Declare incident" on a message: the form, prefilled with it."""
    ack()
    message = shortcut.get("message") or {}
    channel = (shortcut.get("channel") or {}).get("id", "")
    domain = (shortcut.get("team") or {}).get("domain", "")
    ts = str(message.get("ts") or shortcut.get("message_ts") or "")
    source = {
        "channel": channel,
        "ts": ts,
        "user": message.get("user"),
        "text": clip(str(message.get("text") or ""), QUOTE_MAX),
        # a message's address, as Slack writes it (chat.getPermalink would be a second call)
        "link": f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    }
    deps: Deps = context["deps"]
    known = readable(deps, source["text"])
    open_form(deps, client, shortcut["trigger_id"], respond, known=known, source=source)


def readable(deps: Deps, text: str) -> str:
    """A message's text as a person reads it in Slack (`@alice`, a link's label), for a
    plain-text field: its markup (`<@U…>`, `&amp;`) would show as typed. Names opsbot has
    not learnt stay as Slack wrote them; no Slack call is made while Slack waits."""
    return plain(text, names=deps.store.people.names(people.mentioned([text])))


def on_submit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
) -> None:
    deps: Deps = context["deps"]
    declared, errors = read(view, deps.settings)
    if declared is None:
        ack(response_action="errors", errors=errors)
        return
    actor = body["user"]["id"]
    source = json.loads(view.get("private_metadata") or "{}")
    now = deps.clock()
    more: list[Entry] = []
    if source.get("ts"):  # the reporting message, at its own time: the first entry
        at = datetime.fromtimestamp(float(source["ts"]), UTC)
        quoted = f"Reported: “{source.get('text') or '(no text)'}” ({source['link']})"
        more.append(
            Entry(min(at, now), source.get("user"), "pin", quoted, f"declared:{source['ts']}")
        )
    unchanged = readable(deps, str(source.get("text") or "")) if source else ""
    if declared.known and declared.known != unchanged:
        more.append(Entry(now, actor, "update", f"Known at declaration: {declared.known}"))
    try:
        with deps.store.atomic():
            incident = service.open_incident(
                deps.store,
                deps.settings,
                title=declared.title,
                severity=declared.severity,
                actor=actor,
                now=now,
                more=tuple(more),
            )
            reply = render.render_opened(incident, deps.settings.incidents_channel)
            publish(Outcome(reply, incident, private=declared.private), deps)
    except (StoreBusy, StoreUnwritable) as exc:  # said in the form, which stays open
        ack(response_action="errors", errors={TITLE: busy(exc, "created")})
        return
    ack()


def busy(exc: StoreBusy | StoreUnwritable, undone: str) -> str:
    """A form's answer when the database could not take its change: under its first field,
    and the form stays open to be sent again."""
    why = "busy" if isinstance(exc, StoreBusy) else "unable to take writes"
    return f"opsbot's database is {why}: nothing was {undone}. Press the button again in a moment."
