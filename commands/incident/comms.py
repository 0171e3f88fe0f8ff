"""The plan's Communicate step: the button that starts it, the user notification's draft
(`comms`), public updates on the status page (`public`, `public-title`) and the notice sent
through the webhook (`notify`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.deps import Deps
from bot.domain.incidents import outside, service, texts
from bot.domain.incidents.outcome import Outcome, acknowledged_too, outcome_of
from bot.replies import Reply, UserError
from bot.store import Incident
from commands.incident import render


def _incident(deps: Deps, number: int) -> Incident:
    incident = deps.store.incidents.incident(number)
    assert incident is not None  # found by find_incident; incidents are never deleted
    return incident


def communicate(deps: Deps, number: int, actor: str) -> Outcome:
    changed = service.mark_communicated(
        deps.store, deps.settings, number, actor=actor, now=deps.clock()
    )
    outcome = outcome_of(changed, "Communicate step started")
    checklist = Reply(
        ":mega: *Communicate* (the plan's step 4)\n• Update the status page\n"
        "• Notify affected users\n• Keep stakeholders informed\n"
        f"`/incident comms {changed.incident.ref}` drafts the notification; post each update "
        "with `/incident update` so it lands on the timeline."
    )
    return replace(outcome, thread=outcome.thread + (checklist,))


def draft(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident = _incident(deps, number)
    entries = deps.store.incidents.timeline(number)
    return Outcome(texts.render_comms(incident, deps.settings, deps.clock(), entries))


def public(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.public_update(
        deps.store, deps.settings, number, args.text, actor=actor, now=deps.clock()
    )
    outside.status_page(deps, changed.incident, args.text)
    return outcome_of(changed, "public update posted to the status page")


def public_title(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    changed = service.set_public_title(
        deps.store, deps.settings, number, args.title, actor=actor, now=deps.clock()
    )
    return outcome_of(changed, "public title set")


def notify(deps: Deps, number: int, args: Any, actor: str) -> Outcome:
    incident = _incident(deps, number)
    if not deps.settings.status_page.notice_webhook:
        raise UserError(
            "No notice webhook is configured (`status_page.notice_webhook`); "
            f"`/incident comms {incident.ref}` gives the text to copy."
        )
    outside.notice(deps, incident, entry="User notice sent", actor=actor)
    outcome = Outcome(render.render_done(incident, "the user notice is being sent"))
    return acknowledged_too(deps, number, actor, "sending the user notice", outcome)
