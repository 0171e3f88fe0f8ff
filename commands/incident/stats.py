"""`/incident stats [30d|90d|YYYY-MM]`: answered at once; the figures and their charts are
worked out on a bounded pool, off the request path, and posted in the channel through the
outbox (text first, each chart after it with its numbers in that text, for whoever cannot
see the image)."""

from __future__ import annotations

import base64
from datetime import date, timedelta

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot import posting
from bot.config import Settings
from bot.deps import Deps
from bot.domain.incidents import insights
from bot.domain.incidents.insights import Period, Times
from bot.kinds import Kind
from bot.lanes import slack_lane
from bot.replies import Reply, blocks, section, span
from bot.store import Effect
from commands.incident import charts

CHART = "report.chart"


def ask(deps: Deps, text: str, ack: Ack, respond: Respond, channel: str) -> None:
    period = insights.period(text, deps.clock(), deps.settings.tz)  # bad input: one line
    deps.pools.reports.check()  # a full queue is said now, instead of "Working out…"
    ack(**Reply(f":bar_chart: Working out {period.label}: the figures follow here.").as_response())
    deps.in_background(deps.pools.reports, lambda: report(deps, period, channel), respond)


def report(deps: Deps, period: Period, channel: str) -> None:
    earlier = insights.before(period)
    opened = deps.store.incidents.opened_since(earlier.start)
    now, then = insights.within(opened, period), insights.within(opened, earlier)
    if not now:
        message = f"No incident was opened in {period.label}: nothing to chart."
        posting.enqueue_post(deps, channel, {"text": message})
        return
    settings = deps.settings
    times = insights.response_times(now, settings)
    weeks = insights.weekly(now, period, settings.tz, list(settings.severities))
    said = figures(period, times, insights.response_times(then, settings), weeks, settings)
    posting.enqueue_post(deps, channel, said.as_message())
    for name, png, alt in (
        ("acknowledge", charts.response_chart(times, period.label), "Time to acknowledge"),
        ("weekly", charts.weekly_chart(weeks, period.label), "Incidents per week"),
    ):
        payload = {
            "channel": channel,
            "filename": f"incidents-{name}.png",
            "title": f"{alt}, {period.label}",
            "png": base64.b64encode(png).decode(),
        }
        deps.store.outbox.enqueue(CHART, slack_lane(channel), payload)


def _took(minutes: float | None) -> str:
    return span_minutes(minutes) if minutes is not None else "–"


def span_minutes(minutes: float) -> str:
    return span(timedelta(minutes=round(minutes)))


def figures(
    period: Period,
    times: list[Times],
    before: list[Times],
    weeks: list[tuple[date, dict[str, int]]],
    settings: Settings,
) -> Reply:
    earlier = {t.severity: t for t in before}
    lines = []
    for t in times:
        target = span_minutes(settings.severities[t.severity].response_minutes)
        was = earlier.get(t.severity)
        then = f" (before: {_took(was.ack_median)})" if was and was.ack_median is not None else ""
        share = f"{t.met_share:.0%} within {target}" if t.met_share is not None else ""
        acked = (
            f"acknowledged in {_took(t.ack_median)} median{then}, {_took(t.ack_p90)} p90"
            if t.acked
            else "none acknowledged yet"
        )
        done = (
            f"resolved in {_took(t.resolve_median)} median, {_took(t.resolve_p90)} p90"
            if t.resolved
            else "none resolved yet"
        )
        parts = [f"{t.opened} opened", acked, share, done]
        lines.append(f"• *{t.severity}*: " + " · ".join(p for p in parts if p))
    per_week = [
        f"• week of {monday:%d %b}: "
        + (", ".join(f"{n} {sev}" for sev, n in counted.items() if n) or "none")
        for monday, counted in weeks
    ]
    text = f"Incident insights for {period.label}"
    return Reply(
        text=text,
        blocks=blocks(
            section(f"*{text}*\n*Response times* (vs {insights.before(period).label})"),
            section("\n".join(lines)),
            section("*Incidents opened per week*\n" + "\n".join(per_week)),
        ),
    )


def _chart(deps: Deps, effect: Effect, slack: WebClient) -> None:
    data = effect.payload
    slack.files_upload_v2(
        channel=data["channel"],
        content=base64.b64decode(data["png"]),
        filename=data["filename"],
        title=data["title"],
        alt_txt=f"{data['title']}: the figures are in the message above",
    )


KINDS = {CHART: Kind(_chart, "A chart of /incident stats", paced=True)}
