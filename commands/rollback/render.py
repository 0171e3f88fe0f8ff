"""Rollback previews and progress -> Reply. Pure."""

from __future__ import annotations

from bot.config import Settings
from bot.replies import Reply, blocks, buttons, context, mention, section
from commands.rollback.service import Preview, StepResult

CONFIRM = "rollback.confirm"
CANCEL = "rollback.cancel"
MARK = {"pending": "○", "running": "⏳", "ok": "✅", "failed": "❌"}


def render_releases(tags: list[str], current: str | None) -> Reply:
    if not tags:
        return Reply("The checkout has no `v*` release tags.")
    lines = [f"• `{t}`" + (" ← deployed now" if t == current else "") for t in tags[:5]]
    return Reply(
        "*Latest releases* (newest first)\n"
        + "\n".join(lines)
        + (
            ""
            if current
            else "\nThe deployed release is not known "
            "(HEAD is not on a release tag; `/rollback mark <tag>` records one)."
        )
    )


def render_preview(shown: Preview, rollback_id: int | None, settings: Settings) -> Reply:
    undone = "\n".join(f"  • `{c.sha}` {c.subject}" for c in shown.undone) or "  • nothing"
    steps = "\n".join(f"  {n}. {name}" for n, name in enumerate(shown.steps, start=1))
    who = (
        f"for {shown.incident.ref} ({shown.incident.severity})"
        if shown.incident
        else "no incident linked"
    )
    title, effect = (
        (f":fast_forward: *Roll forward to `{shown.tag}`*", "this adds")
        if shown.forward
        else (f":rewind: *Roll back to `{shown.tag}`*", "this undoes")
    )
    text = (
        f"{title} ({who})\n"
        f"Target: `{shown.commit.sha}` {shown.commit.date[:16].replace('T', ' ')} "
        f"{shown.commit.subject}\n"
        f"Deployed now: `{shown.current or 'unknown'}`; {effect}:\n{undone}\n"
        f"Steps:\n{steps}"
    )
    if rollback_id is None:
        return Reply(text + "\n_Dry run: nothing will run._")
    verb = "Roll forward" if shown.forward else "Roll back"
    needs = (
        "Two allowed people must confirm."
        if shown.approvals_needed > 1
        else "One allowed person must confirm."
    )
    return Reply(
        text,
        public=True,
        blocks=blocks(
            section(text),
            buttons(
                [
                    (CONFIRM, f"{verb} to {shown.tag}", str(rollback_id), "danger"),
                    (CANCEL, "Cancel", str(rollback_id), None),
                ],
                block_id=f"rollback.{rollback_id}",
            ),
            context(
                f"R{rollback_id} · {needs} Allowed: "
                + (", ".join(mention(a) for a in settings.rollback.allowed) or "nobody")
            ),
        ),
    )


def render_progress(
    tag: str, results: list[StepResult], state: str, approvals: list[str], forward: bool = False
) -> Reply:
    lines = [
        f"{MARK[r.status]} {r.name}" + (f" ({r.seconds:.1f} s)" if r.seconds else "")
        for r in results
    ]
    head = {
        "running": f":rewind: Rolling back to `{tag}`…",
        "ok": f":white_check_mark: Rolled back to `{tag}`.",
        "failed": f":x: Rollback to `{tag}` stopped at a failed step.",
    }[state]
    if forward:
        head = head.replace("Rolling back", "Rolling forward").replace(
            "Rolled back", "Rolled forward"
        )
        head = head.replace(":rewind:", ":fast_forward:").replace("Rollback to", "Roll-forward to")
    by = ", ".join(mention(a) for a in approvals)
    return Reply(f"{head}\n" + "\n".join(lines) + f"\nConfirmed by {by}.")
