"""Run the audit: every check at once, each with a timeout; store findings by fingerprint and
mark the ones that were there last month too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot import concurrently
from bot.deps import Deps
from bot.domain.audit import checks
from bot.domain.audit.checks import Result
from bot.store import SecurityFinding


def run_audit(deps: Deps, now: datetime) -> tuple[list[Result], set[str]]:
    """The results, and the fingerprints already found by the previous audit."""
    settings, http = deps.settings, deps.http
    plan: dict[str, tuple[str, Callable[[], Result]]] = {
        "deps": ("Dependencies", lambda: checks.dependencies(settings)),
        "secrets": ("Secrets", lambda: checks.secrets(settings)),
        "headers": ("Headers and CORS", lambda: checks.headers(settings, http)),
        "ratelimit": ("Rate limiting", lambda: checks.rate_limit(settings, http)),
        "auth": ("Authentication logs", lambda: checks.auth_logs(settings, now)),
        "code": ("Injection-prone code", lambda: checks.injection(settings)),
    }
    titles = {key: title for key, (title, _) in plan.items()}
    results = concurrently.run_all(
        {key: run for key, (_, run) in plan.items()},
        settings.security.timeout_seconds,
        lambda key, why: Result(key, titles[key], "failed", why),
        "audit",
    )
    previous = deps.store.security.security_runs(limit=1)
    seen_before = previous[0].fingerprints if previous else set()
    for result in results:  # the trend: what the same check said last time
        before = previous[0].summary.get(result.check) if previous else None
        if before and result.check == "deps" and before["summary"] != result.summary:
            result.summary += f" (last audit: {before['summary']})"
    summary: dict[str, Any] = {r.check: {"state": r.state, "summary": r.summary} for r in results}
    deps.store.security.add_security_run(
        now,
        summary,
        [(f.fingerprint, f.check, f.severity, f.title) for r in results for f in r.findings],
    )
    return results, seen_before


def finding(deps: Deps, mark: str) -> SecurityFinding | None:
    """A finding of the latest audit, by fingerprint."""
    runs = deps.store.security.security_runs(limit=1)
    if not runs:
        return None
    return deps.store.security.security_finding(runs[0].id, mark)
