"""Digests and the maintenance log -> Reply. Pure."""

from __future__ import annotations

from datetime import date

from bot.domain.maintenance import REVIEWABLE
from bot.replies import Reply, blocks, buttons, context, header, mention, section
from bot.store import DigestMark

CHECK = "digest.check"  # + ".<key>" on daily digests
DONE = "digest.done"  # + ".<n>" on checklists
ICON = {
    "ok": ":large_green_circle:",
    "warning": ":large_yellow_circle:",
    "failed": ":x:",
    "not configured": ":white_circle:",
}


def _footer(marks: list[DigestMark]) -> str:
    people = sorted({m.user for m in marks if m.item == "all"})
    checks = sorted({REVIEWABLE.get(m.item, m.item) for m in marks if m.item != "all"})
    parts = []
    if people:
        parts.append("Reviewed by " + ", ".join(mention(p) for p in people))
    if checks:
        parts.append("checked: " + ", ".join(checks))
    return "; ".join(parts) or (
        "React :white_check_mark: once reviewed, :warning: to open a P3 follow-up."
    )


def render_daily(
    day: date, sections: list[dict[str, str]], digest_id: int | None, marks: list[DigestMark]
) -> Reply:
    title = f"Daily check · {day:%a %d %b %Y}"
    body = [section(f"{ICON.get(s['state'], '')} *{s['title']}*\n{s['text']}") for s in sections]
    done = {m.item for m in marks}
    choices = [
        (f"{CHECK}.{key}", ("✓ " if key in done else "") + f"{name} reviewed", str(digest_id), None)
        for key, name in REVIEWABLE.items()
    ]
    summary = "; ".join(f"{s['title']}: {s['state']}" for s in sections)
    return Reply(
        f"{title}: {summary}",
        public=True,
        blocks=blocks(
            header(title),
            *body,
            buttons(choices, block_id=f"digest.checks.{digest_id}") if digest_id else None,
            context(_footer(marks)),
        ),
    )


def render_checklist(
    kind: str,
    period: str,
    items: list[str],
    digest_id: int | None,
    marks: list[DigestMark],
    extra: list[dict[str, str]] | None = None,
) -> Reply:
    done = {m.item: m for m in marks}
    title = f"{kind.capitalize()} tasks · {period}"
    lines = [
        f"{'✅' if item in done else '☐'} {item}"
        + (f" — {mention(done[item].user)}, {done[item].at:%Y-%m-%d}" if item in done else "")
        for item in items
    ]
    extra_blocks = [
        section(f"{ICON.get(s['state'], '')} *{s['title']}*\n{s['text']}") for s in extra or []
    ]
    choices = [
        (f"{DONE}.{n}", f"Done: {item}"[:75], str(digest_id), None)
        for n, item in enumerate(items)
        if item not in done
    ]
    return Reply(
        f"{title}: {len(done)}/{len(items)} done",
        public=True,
        blocks=blocks(
            header(title),
            *extra_blocks,
            section("\n".join(lines)),
            buttons(choices, block_id=f"digest.list.{digest_id}")
            if digest_id and choices
            else None,
        ),
    )
