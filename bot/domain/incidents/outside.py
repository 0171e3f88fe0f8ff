"""What an incident owes outside Slack, as outbox rows, and how each is delivered: the
PagerDuty event, the Statuspage update, the user notice. Each has a lane of its own, so a
third party that is down holds up no Slack post. Owed inside the change's transaction, like
everything in effects.py; a row given up on is said to the incident's commander."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.deps import Deps
from bot.domain.incidents.effects import incident_of, thread
from bot.domain.oncall import paging
from bot.domain.status import notices, statuspage
from bot.kinds import Kind
from bot.replies import Reply
from bot.store import Effect, Entry, Incident

# Owing them (inside the change's transaction) ----------------------------------------------


def pager(deps: Deps, incident: Incident, action: str, summary: str = "") -> None:
    """A PagerDuty Events v2 event, when PagerDuty is configured."""
    if deps.settings.oncall.pagerduty_routing_key is None:
        return
    payload = {"action": action, "summary": summary}
    deps.store.outbox.enqueue("pagerduty", "pagerduty", payload, incident=incident.number)


def status_page(
    deps: Deps, incident: Incident, text: str, *, only_if_created: bool = False
) -> None:
    """Atlassian Statuspage, when configured; `only_if_created` for the resolution, which
    only matters when a public update created one."""
    if not statuspage.configured(deps):
        return
    payload = {"body": statuspage.body(incident, text), "only_if_created": only_if_created}
    deps.store.outbox.enqueue("statuspage", "statuspage", payload, incident=incident.number)


def notice(
    deps: Deps,
    incident: Incident,
    *,
    entry: str | None = None,
    actor: str | None = None,
    only_if_sent: bool = False,
) -> None:
    """The plan's user notice for the incident's state, to the notice webhook."""
    if not deps.settings.status_page.notice_webhook:
        return
    payload = {
        "notice": notices.notice_for(deps, incident),
        "entry": entry,
        "actor": actor,
        "only_if_sent": only_if_sent,
    }
    deps.store.outbox.enqueue("notice", "webhook:notice", payload, incident=incident.number)


def resolved_everywhere(deps: Deps, incident: Incident) -> None:
    """Statuspage and whoever got the ongoing notice are told it is over (each only if it
    was told it had begun; decided at delivery, after the rows before it in its lane)."""
    status_page(
        deps, incident, incident.summary or "This incident has been resolved.", only_if_created=True
    )
    notice(deps, incident, only_if_sent=True)


# Delivering them ---------------------------------------------------------------------------


def _pager_failed(deps: Deps, effect: Effect, error: str, final: bool) -> None:
    assert effect.incident is not None
    action = effect.payload["action"]
    text = (
        f"PagerDuty {action} could not be delivered ({error}); "
        f"gave up after {effect.attempts} attempts"
        if final
        else f"PagerDuty {action} failed ({error}), attempt {effect.attempts}; retrying"
    )
    source = f"pagerduty:{effect.id}:{'dead' if final else effect.attempts}"
    deps.store.incidents.add_entry(effect.incident, Entry(deps.clock(), None, "page", text, source))


def _tell_commander(deps: Deps, effect: Effect, error: str, final: bool) -> None:
    """A third party's effect is dead: say so in the incident's thread, to its commander."""
    incident = deps.store.incidents.incident(effect.incident) if final and effect.incident else None
    if incident is None:
        return
    text = (
        f":warning: <@{incident.commander}> {deps.outbox.kinds[effect.kind].label} for "
        f"{incident.ref} could not be delivered ({error}); opsbot gave up after "
        f"{effect.attempts} attempts. `opsbot outbox retry {effect.id}` sends it again."
    )
    thread(deps, incident.number, Reply(text))


def _pager_or_commander(deps: Deps, effect: Effect, error: str, final: bool) -> None:
    _pager_failed(deps, effect, error, final)
    _tell_commander(deps, effect, error, final)


def _pager(deps: Deps, effect: Effect, slack: WebClient) -> None:
    incident = incident_of(deps, effect)
    action = effect.payload["action"]
    paging.pagerduty(deps, action, incident, effect.payload.get("summary", ""))
    tries = f" after {effect.attempts} attempts" if effect.attempts > 1 else ""
    entry = Entry(
        deps.clock(), None, "page", f"PagerDuty {action} delivered{tries}", f"pagerduty:{effect.id}"
    )
    deps.store.incidents.add_entry(incident.number, entry)


def _statuspage(deps: Deps, effect: Effect, slack: WebClient) -> None:
    statuspage.deliver(
        deps, incident_of(deps, effect), effect.payload["body"], effect.payload["only_if_created"]
    )


def _notice(deps: Deps, effect: Effect, slack: WebClient) -> None:
    incident = incident_of(deps, effect)
    data = effect.payload
    if data["only_if_sent"] and not deps.store.state(notices.SENT.format(number=incident.number)):
        return
    notices.deliver(deps, incident, data["notice"])
    if data["entry"]:
        entry = Entry(
            deps.clock(), data["actor"], "communicate", data["entry"], f"notice:{effect.id}"
        )
        deps.store.incidents.add_entry(incident.number, entry)


# How each kind of row this module owes is delivered, for the composition root's table.
KINDS = {
    "pagerduty": Kind(_pager, "The PagerDuty event", on_failure=_pager_or_commander),
    "statuspage": Kind(_statuspage, "The Statuspage update", on_failure=_tell_commander),
    "notice": Kind(_notice, "The user notice", on_failure=_tell_commander),
}
