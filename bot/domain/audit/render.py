"""The security digest -> Reply. Pure. Findings carry places and kinds, never secrets."""

from __future__ import annotations

from datetime import datetime

from bot.domain.audit.checks import Result
from bot.replies import Reply, blocks, buttons, context, header, section

OPEN_P3 = "security.p3"
ICON = {
    "ok": ":large_green_circle:",
    "warning": ":large_yellow_circle:",
    "critical": ":red_circle:",
    "failed": ":x:",
    "not configured": ":white_circle:",
}
SEVERITY = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}


def render_audit(results: list[Result], seen_before: set[str], now: datetime) -> Reply:
    title = f"Security audit · {now:%B %Y}"
    parts = []
    for result in results:
        lines = [f"{ICON.get(result.state, '')} *{result.title}*: {result.summary}"]
        for item in result.findings[:8]:
            again = " _(also last audit)_" if item.fingerprint in seen_before else ""
            lines.append(f"  {SEVERITY.get(item.severity, '')} {item.title}{again}")
        if len(result.findings) > 8:
            lines.append(f"  …and {len(result.findings) - 8} more")
        parts.append(section("\n".join(lines)))
    critical = [f for r in results for f in r.findings if f.severity == "critical"]
    choices = [
        (f"{OPEN_P3}.{n}", f"P3: {f.title}"[:75], f.fingerprint, None)
        for n, f in enumerate(critical[:5])
    ]
    summary = "; ".join(f"{r.title}: {r.state}" for r in results)
    return Reply(
        f"{title}: {summary}",
        public=True,
        blocks=blocks(
            header(title),
            *parts,
            buttons(choices, block_id="security.p3") if choices else None,
            context("Secrets are shown by place and kind only; rotate any that were found."),
        ),
    )
