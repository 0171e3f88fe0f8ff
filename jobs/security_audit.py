"""security-audit: the plan's monthly security audit, posted as one message."""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.domain.audit import render, service


def run(deps: Deps, *, now: datetime, dry_run: bool = False) -> str:
    results, seen = service.run_audit(deps, now)
    if dry_run:
        return "; ".join(f"{r.title}: {r.state} ({r.summary})" for r in results)
    reply = render.render_audit(results, seen, now.astimezone(deps.settings.tz))
    deps.post_now(deps.settings.digest_target, reply)
    found = sum(len(r.findings) for r in results)
    return f"Posted the security audit: {found} findings."
