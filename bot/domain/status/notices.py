"""The plan's user notices (ongoing and resolved), sent to a configured webhook."""

from __future__ import annotations

from bot.deps import Deps
from bot.domain.incidents.texts import render_comms, resolution_notice
from bot.slacktext import plain
from bot.store import Incident

SENT = "notice.sent.{number}"


def text_of(deps: Deps, incident: Incident) -> str:
    """The plan's template for its state, with the impact and root cause pinned so far."""
    entries = deps.store.incidents.timeline(incident.number)
    if not incident.is_open:
        return resolution_notice(incident, deps.settings, entries)
    draft = render_comms(incident, deps.settings, deps.clock(), entries).blocks[1]["text"]
    return str(draft).strip("`\n")


def notice_for(deps: Deps, incident: Incident) -> dict[str, str]:
    """The notice for the incident's state now (sent later, by the outbox)."""
    text = plain(text_of(deps, incident), public=True)
    return {
        "subject": text.splitlines()[0].removeprefix("Subject: "),
        "text": text,
        "incident": incident.ref,
        "state": "ongoing" if incident.is_open else "resolved",
    }


def deliver(deps: Deps, incident: Incident, notice: dict[str, str]) -> None:
    """POST it to the webhook; remember that users were told, for the resolved notice."""
    url = deps.settings.status_page.notice_webhook
    if not url:
        return
    answer = deps.http.post(url, json=notice, timeout=deps.settings.outbox.timeout_seconds)
    answer.raise_for_status()
    deps.store.set_state(SENT.format(number=incident.number), "yes")
