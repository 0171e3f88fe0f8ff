"""The plan's schedule as digests: daily checks, weekly, monthly, quarterly and annual tasks,
the review nudge, and the monthly maintenance log."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.deps import Deps
from bot.domain import maintenance
from bot.domain.incidents import insights
from bot.domain.incidents.insights import Period
from bot.replies import Reply
from commands.backup import care
from commands.digest import sections, service
from commands.digest.sections import Section, safely
from commands.incident import stats


def daily(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    if dry_run:
        found = sections.daily(deps, now)
        return "; ".join(f"{s.title}: {s.state}" for s in found)
    return service.post_daily(deps, now)


def nudge(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    return "Would nudge if today's digest has no review." if dry_run else service.nudge(deps, now)


def weekly(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    found = sections.weekly(deps, now)
    if dry_run:
        return "; ".join(f"{s.title}: {s.state}" for s in found)
    return service.post_checklist(deps, "weekly", now, found)


def _database(deps: Deps, now: datetime) -> Section:
    if deps.mongo is None:
        return Section("database", "Database review", "not configured", "MONGODB_URI is not set.")
    db = deps.mongo()[deps.settings.backup.database]
    review = care.review_indexes(db)
    missing = sum(len(v) for v in review.missing.values())
    counts = care.count_candidates(db, now)
    text = (
        f"{missing} recommended indexes missing; cleanup candidates: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + " (`/backup indexes`, "
        "`/backup cleanup`)"
    )
    return Section("database", "Database review", "warning" if missing else "ok", text)


def _security(deps: Deps) -> Section:
    runs = deps.store.security.security_runs(limit=1)
    if not runs:
        return Section(
            "security",
            "Security audit",
            "not configured",
            "No audit has run yet (`/health security` runs one).",
        )
    states = {k: v["state"] for k, v in runs[0].summary.items()}
    bad = [k for k, v in states.items() if v in ("critical", "warning", "failed")]
    text = f"Last audit {runs[0].at:%Y-%m-%d}: " + ", ".join(f"{k} {v}" for k, v in states.items())
    return Section("security", "Security audit", "warning" if bad else "ok", text)


def _last_month(deps: Deps, now: datetime, dry_run: bool, charted: list[Period]) -> Section:
    """The month just ended, in a few lines; when anything happened, its period goes in
    `charted`, for its figures and charts to follow (a report drawn in a child process,
    like /incident stats)."""
    ended = (now.astimezone(deps.settings.tz).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    period = insights.period(ended, now, deps.settings.tz)
    title = f"Incidents in {period.label}"
    if dry_run:  # asks Slack nothing
        return Section("incidents", title, "ok", "would summarise the month")
    figures = stats.gather(deps, period)
    text = stats.summary(figures, deps.settings)
    if not figures.empty:
        text += "\nThe figures and their charts follow."
        charted.append(period)
    return Section("incidents", title, "ok", text)


def monthly(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    charted: list[Period] = []
    found = [
        safely(
            "incidents", "Incidents last month", lambda: _last_month(deps, now, dry_run, charted)
        ),
        safely("database", "Database review", lambda: _database(deps, now)),
        Section(
            "security",
            "Security audit",
            "not configured",
            "No automated audit yet: run `npm audit`, review auth logs, check secrets, "
            "CORS and security headers by hand.",
        ),
    ]
    if dry_run:
        return "; ".join(f"{s.title}: {s.state}" for s in found)
    posted = service.post_checklist(deps, "monthly", now, found)
    for period in charted:  # after it, in the same lane
        stats.report(deps, period, deps.settings.digest_target)
    return posted


def quarterly(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    return (
        "Would post the quarterly checklist."
        if dry_run
        else service.post_checklist(deps, "quarterly", now)
    )


def annual(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    return (
        "Would post the annual checklist."
        if dry_run
        else service.post_checklist(deps, "annual", now)
    )


def maintenance_log(
    deps: Deps, *, now: datetime, dry_run: bool = False, month: date | None = None
) -> str:
    """Posted on the last day of the month (the trigger fires daily; only month end posts),
    or for `month` (its first day) when asked for by hand."""
    local = now.astimezone(deps.settings.tz)
    if month is None and not maintenance.month_end(local):
        return (
            "Not the last day of the month; "
            f"`opsbot run-job maintenance-log --month {local:%Y-%m}` posts a month's log now."
        )
    year, number = (month.year, month.month) if month else (local.year, local.month)
    text = maintenance.maintenance_log(deps, year, number)
    if dry_run:
        return text
    deps.post_now(deps.settings.digest_target, Reply(f"```\n{text}\n```"))
    return f"Posted the maintenance log of {date(year, number, 1):%B %Y}."
