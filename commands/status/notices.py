"""The plan's user notices (ongoing and resolved), sent to a configured webhook."""

from __future__ import annotations

from bot.deps import Deps
from bot.store import Incident
from commands.incident.render import render_comms, resolution_notice

SENT = "notice.sent.{number}"


def text_of(deps: Deps, incident: Incident) -> str:
    if not incident.is_open:
        return resolution_notice(incident, deps.settings)
    draft = render_comms(incident, deps.settings, deps.clock()).blocks[1]["text"]
    return str(draft).strip("`\n")


def send(deps: Deps, incident: Incident) -> bool:
    """POST the notice for the incident's state; False when no webhook is configured."""
    url = deps.settings.status_page.notice_webhook
    if not url:
        return False
    text = text_of(deps, incident)
    subject = text.splitlines()[0].removeprefix("Subject: ")
    answer = deps.http.post(
        url,
        json={
            "subject": subject,
            "text": text,
            "incident": incident.ref,
            "state": "ongoing" if incident.is_open else "resolved",
        },
        timeout=10,
    )
    answer.raise_for_status()
    deps.store.set_state(SENT.format(number=incident.number), "yes")
    return True
