"""Scheduled backups: nightly dump plus retention, weekly verification, monthly restore test.
Each posts its outcome in the digest channel; a failure says so there, loudly."""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.replies import Reply, blocks, section
from commands.backup import care, render, service


def _post(deps: Deps, reply: Reply) -> None:
    deps.post_now(deps.settings.digest_target, reply)


def _skip(deps: Deps, what: str) -> str | None:
    if deps.mongo is None:
        return f"MongoDB is not configured (MONGODB_URI is not set): nothing to {what}."
    return None


def nightly(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    """MongoDB's backup (when configured) and opsbot's own SQLite file, both kept by the same
    retention and copied off-site the same way."""
    if dry_run:
        mongo = _skip(deps, "back up") or f"Would back up {deps.settings.backup.database}."
        return f"{mongo} Would copy opsbot's database into {deps.settings.backup_dir}."
    own = _own(deps, now)
    if reason := _skip(deps, "back up"):
        return f"{reason} {own}"
    outcome = service.run_backup(deps, reason="nightly", progress=lambda name, count: None)
    expired = service.retention(deps, now) if outcome.status == "ok" else []
    _post(deps, render.render_outcome(outcome))
    return f"B{outcome.id} {outcome.status}; expired {len(expired)} old backups. {own}"


def _own(deps: Deps, now: datetime) -> str:
    if not deps.store.sqlite:  # a server's database is backed up by its own tools
        return "opsbot's database is on PostgreSQL: back it up there (pg_dump)."
    try:
        folder, note = service.backup_own(deps, now)
    except OSError as exc:  # said in the channel: the incident record is what is at stake
        text = f":x: opsbot's own database could not be backed up ({type(exc).__name__})."
        _post(deps, Reply(text))
        return text
    removed = service.own_retention(deps)
    if note:
        _post(deps, Reply(f":warning: opsbot's own database backup: {note}."))
    return f"opsbot's database copied to {folder.name}; {len(removed)} old copies removed."


def _verify(deps: Deps, *, restore_test: bool, dry_run: bool) -> str:
    if (reason := _skip(deps, "verify")) or dry_run:
        return reason or "Would verify the latest backup."
    row, problems = service.verify(
        deps, None, restore_test=restore_test, progress=lambda name, count: None
    )
    what = "restore test" if restore_test else "verification"
    text = (
        f":white_check_mark: Weekly {what} of B{row.id} passed."
        if not problems
        else f":x: {what.capitalize()} of B{row.id} FAILED: " + "; ".join(problems)
    )
    _post(deps, Reply(text))
    return text


def weekly_verify(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    return _verify(deps, restore_test=False, dry_run=dry_run)


def monthly_restore_test(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    return _verify(deps, restore_test=True, dry_run=dry_run)


def monthly_review(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    """The plan's monthly database optimisation: indexes, slow queries, cleanup candidates
    (counted here; deleting them takes the button and an allowed user)."""
    if (reason := _skip(deps, "review")) or dry_run:
        return reason or "Would review indexes, slow queries and cleanup candidates."
    db = deps.mongo()[deps.settings.backup.database]  # type: ignore[misc]
    question = render.render_cleanup_question(care.count_candidates(db, now))
    parts = [
        render.render_indexes(care.review_indexes(db)),
        render.render_slow(care.slow_queries(db)),
    ]
    report = Reply(
        "\n\n".join([":broom: *Monthly database review*", *parts, question.text]),
        blocks=[
            *blocks(section(":broom: *Monthly database review*\n\n" + "\n\n".join(parts))),
            *question.blocks,
        ],
    )
    _post(deps, report)
    return "Posted the monthly database review."
