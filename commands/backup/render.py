"""Backups -> Reply. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.replies import Reply, blocks, buttons, context, section, span, sparkline, when
from bot.store import Backup
from commands.backup.care import IndexReview
from commands.backup.service import Outcome, growth

RESTORE_CONFIRM = "backup.restore.confirm"
RESTORE_CANCEL = "backup.restore.cancel"


def size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def render_progress(verb: str, done: dict[str, int]) -> Reply:
    parts = ", ".join(f"{name} ✓ {count:,}" for name, count in done.items())
    return Reply(f":hourglass: {verb}… {parts}" if parts else f":hourglass: {verb}…")


def render_outcome(outcome: Outcome) -> Reply:
    if outcome.status == "failed":
        return Reply(
            f":x: Backup B{outcome.id} failed ({outcome.error}); its partial files "
            "were removed and it will never be offered for a restore."
        )
    total = sum(outcome.counts.values())
    verb = "restored" if outcome.status == "restored" else "done"
    collections = ", ".join(f"{k} {v:,}" for k, v in outcome.counts.items())
    return Reply(
        f":white_check_mark: Backup B{outcome.id} {verb}: {size(outcome.size)}, "
        f"{len(outcome.counts)} collections, {total:,} documents in "
        f"{outcome.seconds:.1f} s. {collections}. SHA-256 {outcome.sha256[:12]}…"
        + (f" :warning: But {outcome.note}." if outcome.note else "")
    )


def render_list(rows: list[Backup], now: datetime, settings: Settings) -> Reply:
    if not rows:
        return Reply("No backups yet. `/backup run` takes one.")
    sizes = [float(r.size) for r in reversed(rows) if r.status == "ok" and r.size]
    change = growth(rows)
    trend = (f"Size trend `{sparkline(list(sizes))}`" if len(sizes) > 1 else "") + (
        f" ({change:+.1f} % since the one before)" if change is not None else ""
    )
    lines = []
    for row in rows:
        mark = {"ok": ":white_check_mark:", "failed": ":x:", "running": ":hourglass:"}.get(
            row.status, ":wastebasket:"
        )
        verified = f" · verified: {row.verify_result}" if row.verify_result else ""
        lines.append(
            f"{mark} *B{row.id}* {when(row.started_at, settings.tz)} "
            f"({span(now - row.started_at)} ago) · {row.status} · "
            f"{size(row.size)} · {sum(row.counts.values()):,} docs{verified}"
        )
    return Reply(
        f"{len(rows)} backups",
        blocks=blocks(
            section("*Backups*\n" + "\n".join(lines[:20])), context(trend) if trend else None
        ),
    )


def render_restore_question(row: Backup) -> Reply:
    names = ", ".join(f"{k} ({v:,} docs)" for k, v in row.counts.items())
    text = (
        f":warning: Restore *B{row.id}* over the live `{row.database}` database? "
        f"This replaces these collections: {names}. A backup of the current data is "
        "taken first."
    )
    return Reply(
        text,
        blocks=blocks(
            section(text),
            buttons(
                [
                    (RESTORE_CONFIRM, f"Restore B{row.id}", str(row.id), "danger"),
                    (RESTORE_CANCEL, "Cancel", str(row.id), None),
                ],
                block_id=f"backup.restore.{row.id}",
            ),
        ),
    )


CLEANUP_CONFIRM = "backup.cleanup.confirm"
ARCHIVE_REMOVE = "backup.archive.remove"
CARE_CANCEL = "backup.care.cancel"


def render_indexes(review: IndexReview) -> str:
    lines = ["*Indexes* (the plan's recommended list)"]
    if not review.missing:
        lines.append("• every recommended index exists")
    lines += [f"• {name}: missing {', '.join(gaps)}" for name, gaps in review.missing.items()]
    if not review.usage_known:
        lines.append("• index usage: not available from this server ($indexStats)")
    lines += [
        f"• {name}: unused since the server started: {', '.join(idle)}"
        for name, idle in review.unused.items()
    ]
    return "\n".join(lines)


def render_slow(rows: list[dict[str, Any]] | None) -> str:
    if rows is None:
        return (
            "*Slow queries*: profiling is off. Turn it on with "
            "`db.setProfilingLevel(1, { slowms: 100 })` to see them here."
        )
    if not rows:
        return "*Slow queries*: none recorded."
    return "*Slow queries* (slowest first)\n" + "\n".join(
        f"• {r.get('millis')} ms · {r.get('op')} {r.get('ns')}" for r in rows
    )


def render_cleanup_question(counts: dict[str, int]) -> Reply:
    described = ", ".join(f"{n:,} {name}" for name, n in counts.items())
    text = (
        "*Cleanup candidates*: " + described + " (prompts soft-deleted over 90 days ago, "
        "sessions idle over 30 days)."
    )
    if not any(counts.values()):
        return Reply(text + " Nothing to delete.")
    return Reply(
        text,
        blocks=blocks(
            section(text + " Delete them?"),
            buttons(
                [
                    (CLEANUP_CONFIRM, "Delete them", "cleanup", "danger"),
                    (CARE_CANCEL, "Cancel", "cleanup", None),
                ],
                block_id="backup.cleanup",
            ),
        ),
    )


def render_archive_question(year: int, counts: dict[str, int], folder: str) -> Reply:
    n = counts["prompts"]
    text = (
        f"Archived {n:,} prompts created before {year} to `{folder}`. Remove them from "
        "the live database?"
    )
    if not n:
        return Reply(f"No prompts were created before {year}; nothing to archive.")
    return Reply(
        text,
        blocks=blocks(
            section(text),
            buttons(
                [
                    (ARCHIVE_REMOVE, f"Remove {n:,} prompts", f"{year}:{n}", "danger"),
                    (CARE_CANCEL, "Keep them", "archive", None),
                ],
                block_id="backup.archive",
            ),
        ),
    )
