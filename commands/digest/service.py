"""Digests that produce records: post them, record reviews and done items, open follow-ups,
nudge, and fill the plan's monthly maintenance log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import posting
from bot.deps import Deps
from bot.domain import checklists
from bot.domain.incidents import service as incidents
from bot.domain.incidents.outcome import Outcome, publish
from bot.domain.oncall import who
from bot.replies import Reply, mention
from bot.store import Digest, Entry
from commands.digest import render, sections

REVIEWED, FOLLOW_UP = "white_check_mark", "warning"


def _post(deps: Deps, reply: Reply) -> dict[str, str]:
    return deps.post_now(deps.settings.digest_target, reply)


def post_daily(deps: Deps, now: datetime) -> str:
    day = now.astimezone(deps.settings.tz).date()
    found = [s.as_dict() for s in sections.daily(deps, now)]
    digest_id = deps.store.digests.add_digest("daily", day.isoformat(), "", "", now, found)
    _set_where(deps, digest_id, _post(deps, render.render_daily(day, found, digest_id, [])))
    failed = [s["title"] for s in found if s["state"] == "failed"]
    return f"Daily digest D{digest_id} posted" + (
        f"; failed: {', '.join(failed)}" if failed else ""
    )


def post_checklist(
    deps: Deps, kind: str, now: datetime, extra: list[sections.Section] | None = None
) -> str:
    local = now.astimezone(deps.settings.tz)
    period = {
        "weekly": f"week {local:%V}, {local:%Y}",
        "monthly": f"{local:%B %Y}",
        "quarterly": f"Q{(local.month - 1) // 3 + 1} {local:%Y}",
        "annual": f"{local:%Y}",
    }[kind]
    found = [s.as_dict() for s in extra or []]
    digest_id = deps.store.digests.add_digest(kind, local.date().isoformat(), "", "", now, found)
    where = _post(
        deps,
        render.render_checklist(kind, period, checklists.CHECKLISTS[kind], digest_id, [], found),
    )
    _set_where(deps, digest_id, where)
    return f"{kind.capitalize()} digest D{digest_id} posted"


def _set_where(deps: Deps, digest_id: int, where: dict[str, Any]) -> None:
    deps.store.digests.set_digest_message(digest_id, where["channel"], where["ts"])


def digest_at(deps: Deps, channel: str, ts: str) -> Digest | None:
    return deps.store.digests.digest_at(channel, ts)


def _refresh(deps: Deps, digest_id: int) -> None:
    """Re-render a digest from its stored sections and marks, in place."""
    digest = deps.store.digests.digest(digest_id)
    assert digest is not None
    marks = deps.store.digests.marks(digest_id)
    if digest.kind == "daily":
        reply = render.render_daily(digest.day, digest.sections, digest_id, marks)
    else:
        reply = render.render_checklist(
            digest.kind,
            f"{digest.day:%d %b %Y}",
            checklists.CHECKLISTS[digest.kind],
            digest_id,
            marks,
            digest.sections,
        )
    posting.enqueue_update(deps, digest.channel, digest.ts, reply.as_message())


def on_reaction(deps: Deps, event: dict[str, Any]) -> bool:
    """:white_check_mark: records a review; :warning: opens a P3 follow-up. False if the
    message is not a digest."""
    item = event.get("item", {})
    digest = digest_at(deps, item.get("channel", ""), item.get("ts", ""))
    if digest is None:
        return False
    name, user, added = (
        event.get("reaction"),
        event.get("user", ""),
        event.get("type") == "reaction_added",
    )
    now = deps.clock()
    with deps.store.atomic():
        if name == REVIEWED and deps.store.digests.mark(digest.id, "all", user, now, add=added):
            _refresh(deps, digest.id)
        elif name == FOLLOW_UP and added:
            _follow_up(deps, digest, user, now)
    return True


def _follow_up(deps: Deps, digest: Digest, user: str, now: datetime) -> None:
    if deps.store.state(f"digest.followup.{digest.id}"):
        return  # one follow-up incident per digest
    flagged = [s for s in digest.sections if s["state"] in ("warning", "failed")]
    title = f"Follow-up from the {digest.kind} check of {digest.day.isoformat()}" + (
        ": " + ", ".join(s["title"] for s in flagged) if flagged else ""
    )
    opened = incidents.open_incident(
        deps.store, deps.settings, title=title, severity="P3", actor=user, now=now, via="digest"
    )
    deps.store.set_state(f"digest.followup.{digest.id}", str(opened.number))
    for found in flagged:
        deps.store.incidents.add_entry(
            opened.number, Entry(now, None, "note", f"{found['title']}: {found['text'][:400]}")
        )
    publish(Outcome(Reply(""), opened), deps)
    text = f"{mention(user)} opened {opened.ref} (P3) to follow this up."
    posting.enqueue_post(deps, digest.channel, {"text": text}, thread_ts=digest.ts)


def mark_item(deps: Deps, digest_id: int, item: str, user: str) -> bool:
    with deps.store.atomic():
        added = deps.store.digests.mark(digest_id, item, user, deps.clock())
        if added:
            _refresh(deps, digest_id)
    return added


def nudge(deps: Deps, now: datetime) -> str:
    """No review of today's daily digest by the cut-off: a word to whoever is on call."""
    day = now.astimezone(deps.settings.tz).date().isoformat()
    today = deps.store.digests.find(day, day, kind="daily")
    if not today:
        return "No daily digest today."
    digest = today[-1]
    if deps.store.digests.marks(digest.id):
        return f"D{digest.id} was reviewed."
    person = who(deps.store, deps.settings, now)
    text = (
        f"{mention(person) + ' ' if person else ''}Today's daily check has no review yet. "
        "React :white_check_mark: when you have looked at it."
    )
    deps.post_now(digest.channel, Reply(text), thread_ts=digest.ts)
    return f"Nudged about D{digest.id}."
