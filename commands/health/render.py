"""Health readings -> Reply. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.domain.health import (
    CRITICAL,
    ICON,
    NOT_CONFIGURED,
    OK,
    WARNING,
    Reading,
    service_monitored,
    worst,
)
from bot.replies import Reply, blocks, context, header, hhmm, section, sparkline
from bot.store import Reading as StoredReading


def _line(reading: Reading, history: list[float | None]) -> str:
    trend = sparkline(history[-20:])
    limit = f" _({reading.threshold})_" if reading.threshold and reading.state != OK else ""
    return f"{ICON[reading.state]} *{reading.check}*: {reading.summary}{limit}" + (
        f" `{trend}`" if trend else ""
    )


def render_card(
    readings: list[Reading],
    histories: dict[str, list[float | None]],
    now: datetime,
    settings: Settings,
) -> Reply:
    """Overall state first, then one line per check with its value, threshold and trend."""
    overall = (
        worst([r.state for r in readings if r.state != NOT_CONFIGURED])
        if any(r.state != NOT_CONFIGURED for r in readings)
        else NOT_CONFIGURED
    )
    title = f"Prompt-Base is {overall}" if overall != NOT_CONFIGURED else "Nothing to check yet"
    icon = ICON[overall]
    if not service_monitored(readings) and overall != NOT_CONFIGURED:
        icon = ICON[NOT_CONFIGURED]
        # Only this host was checked: that says nothing about Prompt-Base itself.
        title = (
            f"Prompt-Base is not monitored (set PROMPTBASE_API_URL and MONGODB_URI); "
            f"this host is {overall}"
        )
    lines = "\n".join(_line(r, histories.get(r.check, [])) for r in readings)
    return Reply(
        f"{title}: " + ", ".join(f"{r.check} {r.state}" for r in readings),
        blocks=blocks(
            header(f"{icon} {title}"),
            section(lines),
            context(
                f"Checked at {hhmm(now, settings.tz)}. "
                "`/health <check>` for one, `/health history` for 24 h."
            ),
        ),
    )


def render_detail(reading: Reading, history: list[StoredReading], settings: Settings) -> Reply:
    values = [r.value for r in history]
    rows = "\n".join(
        f"`{hhmm(r.at, settings.tz)}` {ICON[r.state]} {r.summary}" for r in history[-10:]
    )
    body = (
        _line(reading, values)
        + (f"\n*Threshold:* {reading.threshold}" if reading.threshold else "")
        + (f"\n*Recent readings:*\n{rows}" if rows else "")
    )
    return Reply(f"{reading.check}: {reading.state}", blocks=blocks(section(body)))


def render_history(histories: dict[str, list[StoredReading]], settings: Settings) -> Reply:
    if not any(histories.values()):
        return Reply("No readings in the last 24 h: the monitor has not run yet.")
    lines = []
    for check, rows in histories.items():
        if not rows:
            continue
        bad = [r for r in rows if r.state in (WARNING, CRITICAL)]
        trend = sparkline([r.value for r in rows][-48:])
        lines.append(
            f"*{check}*: {len(rows)} readings, {len(bad)} warning or critical"
            + (f" `{trend}`" if trend else "")
        )
    return Reply(
        "Health, last 24 h", blocks=blocks(section("*Health, last 24 h*\n" + "\n".join(lines)))
    )


def render_alert(reading: Reading, state: str, now: datetime, settings: Settings) -> Reply:
    text = (
        f"{ICON[state]} *{reading.check} is {state}* since {hhmm(now, settings.tz)}: "
        f"{reading.summary}" + (f" _({reading.threshold})_" if reading.threshold else "")
    )
    return Reply(text)
