"""`/incident stats [30d|90d|YYYY-MM]`: answered at once; the figures and their charts are
worked out on a bounded pool, off the request path, and posted in the channel through the
outbox (text first, each chart after it with its numbers in that text, for whoever cannot
see the image)."""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import SecretStr
from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot import people, posting
from bot.config import Settings
from bot.deps import Deps
from bot.domain.incidents import insights
from bot.domain.incidents.insights import Period, Times
from bot.kinds import Kind
from bot.lanes import slack_lane
from bot.redact import redact
from bot.replies import Reply, UserError, blocks, clip, section
from bot.store import Effect, Silence
from commands.incident import charts

CHART = "report.chart"


def ask(deps: Deps, text: str, ack: Ack, respond: Respond, channel: str, actor: str) -> None:
    period = insights.period(text, deps.clock(), deps.settings.tz)  # bad input: one line
    deps.pools.reports.check()  # a full queue is said now, instead of "Working out…"
    ack(**Reply(f":bar_chart: Working out {period.label}: the figures follow here.").as_response())
    deps.in_background(deps.pools.reports, lambda: report(deps, period, channel, actor), respond)


@dataclass(frozen=True)
class Figures:
    """What one report says: the period's incidents, pages and alerts, and what is owed."""

    period: Period
    times: list[Times]
    times_before: list[Times]
    weeks: list[tuple[date, dict[str, int]]]
    months: list[tuple[str, list[Times]]]
    sources: dict[str, int]
    paged: list[insights.Paged]
    noise: list[insights.Noise]
    silences: list[Silence]
    owed: list[insights.Owed]
    names: dict[str, str]

    @property
    def empty(self) -> bool:
        return not (self.times or self.paged or self.noise)


def gather(deps: Deps, period: Period) -> Figures:
    settings, store, now = deps.settings, deps.store, deps.clock()
    earlier = insights.before(period)
    opened = store.incidents.opened_since(earlier.start)
    these = insights.within(opened, period)
    pages = store.incidents.pages(period.start, period.end)
    alerts = [a for a in store.alerts.seen_since(period.start) if a.first_seen < period.end]
    today = now.astimezone(settings.tz).date()
    owed = insights.follow_ups(store.followups.open_actions(), today, settings.tz)
    who = {p.person for p in pages} | {o.owner for o in owed}
    people.learn(deps, who)  # their names, and their time zones
    return Figures(
        period,
        insights.response_times(these, settings),
        insights.response_times(insights.within(opened, earlier), settings),
        insights.weekly(these, period, settings.tz, list(settings.severities)),
        insights.by_month(these, period, settings),
        insights.by_source(these),
        insights.pages_by_person(pages, store.people.zones(who), settings.tz),
        insights.noisiest(alerts),
        store.alerts.silences(now),
        owed,
        store.people.names(who),
    )


def summary(found: Figures, settings: Settings) -> str:
    """A few lines for a digest: each severity's response, and the pages."""
    if found.empty:
        return f"No incident, page or alert in {found.period.label}."
    lines = [f"{t.severity}: {insights.describe(t, settings)}" for t in found.times]
    return "\n".join([*lines, f"Pages: {insights.pages_line(found.paged)}."])


REPORT_SECONDS = 120  # a child that takes longer is stopped, and the person told


class ReportFailed(UserError):
    """The child process drawing a report failed; its last line says why (redacted)."""


def report(deps: Deps, period: Period, channel: str, asked_by: str | None = None) -> None:
    """In a child process (bot/worker.py): reading a big record and drawing its charts take
    a second or more of CPU, which in this process would hold up the request threads'
    answers to Slack. The pool's thread waits for it; the rows it owes are delivered here."""
    token = deps.slack.token or ""
    asked = job(deps.settings, token, deps.clock(), period, channel, asked_by)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.worker"],
            input=asked,
            capture_output=True,
            text=True,
            timeout=REPORT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ReportFailed(
            f"The report of {period.label} took over {REPORT_SECONDS} s and was stopped."
        ) from None
    finally:
        deps.outbox.wake()  # what it owed so far goes out
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReportFailed(f"The report of {period.label} failed: {redact(last)[:200]}")


def job(
    settings: Settings,
    token: str,
    now: datetime,
    period: Period,
    channel: str,
    asked_by: str | None = None,
) -> str:
    """What the child reads: the settings and the bot token (through a pipe only)."""

    def reveal(value: Any) -> Any:
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    return json.dumps(
        {
            "settings": settings.model_dump(),
            "token": token,
            "now": now.isoformat(),
            "period": [period.start.isoformat(), period.end.isoformat(), period.label],
            "channel": channel,
            "asked_by": asked_by,
        },
        default=reveal,
    )


def post(deps: Deps, found: Figures, channel: str, asked_by: str | None = None) -> None:
    """The figures, then each chart, owed to `channel` through the outbox (its lane keeps
    them in that order); an empty period says so in one line."""
    period = found.period
    if found.empty:
        message = f"No incident, page or alert in {period.label}: nothing to chart."
        posting.enqueue_post(deps, channel, {"text": message})
        return
    posting.enqueue_post(deps, channel, figures(found, deps.settings).as_message())
    label = period.label
    drawn: list[tuple[str, str, Callable[[], bytes]]] = [
        ("acknowledge", "Time to acknowledge", lambda: charts.response_chart(found.times, label)),
        ("weekly", "Incidents per week", lambda: charts.weekly_chart(found.weeks, label)),
    ]
    if found.paged:
        chart = functools.partial(charts.pages_chart, found.paged, found.names, label)
        drawn.append(("pages", "Pages per person", chart))
    if found.noise:
        drawn.append(
            ("alerts", "Noisiest alert groups", lambda: charts.noise_chart(found.noise, label))
        )
    for name, title, draw in drawn:
        payload = {
            "channel": channel,
            "asked_by": asked_by,
            "filename": f"incidents-{name}.png",
            "title": f"{title}, {label}",
            "png": base64.b64encode(draw()).decode(),
        }
        deps.store.outbox.enqueue(CHART, slack_lane(channel), payload)


def figures(found: Figures, settings: Settings) -> Reply:
    """The report's text: every chart's numbers, for whoever cannot see the image."""
    text = f"Incident insights for {found.period.label}"
    sections = [
        f"*{text}*\n*Response times* (vs {insights.before(found.period).label})",
        "\n".join(_times(found, settings)) or "No incident was opened.",
        "*Incidents opened per week*\n" + "\n".join(_weeks(found)),
    ]
    if len(found.months) > 1:
        sections.insert(2, "*Per month*\n" + "\n".join(_months(found, settings)))
    if found.sources:
        sections.append(
            "*Opened by*: " + ", ".join(f"{VIA.get(v, v)} {n}" for v, n in found.sources.items())
        )
    sections.append("*Pages per person* (in each one's own time)\n" + "\n".join(_pages(found)))
    sections.append(
        "*Noisiest alert groups* (alerts seen in the period, each with all its repeats; "
        "resolved by itself: as it stands now)\n" + "\n".join(_noise(found))
    )
    sections.append("*Open follow-ups*\n" + "\n".join(_owed(found)))
    return Reply(text=text, blocks=blocks(*(section(clip(s, 2900)) for s in sections)))


VIA = {"hand": "by hand", "alerts": "by alerts", "monitor": "by the health monitor"}
VIA |= {"security": "from the security audit", "digest": "from a digest"}


def _times(found: Figures, settings: Settings) -> list[str]:
    earlier = {t.severity: t for t in found.times_before}
    return [
        f"• *{t.severity}*: {insights.describe(t, settings, earlier.get(t.severity))}"
        for t in found.times
    ]


def _months(found: Figures, settings: Settings) -> list[str]:
    """Each month's acknowledgement median and share within the target, per severity."""
    lines = []
    for name, times in found.months:
        said = [
            f"{t.severity} {insights.took(t.ack_median)}"
            + (f" ({insights.share(t.met_share)} within target)" if t.met_share is not None else "")
            for t in times
        ]
        lines.append(f"• {name}: " + (", ".join(said) or "no incident"))
    return lines


def _weeks(found: Figures) -> list[str]:
    return [
        f"• week of {monday:%d %b}: "
        + (", ".join(f"{n} {sev}" for sev, n in counted.items() if n) or "none")
        for monday, counted in found.weeks
    ]


def _pages(found: Figures) -> list[str]:
    if not found.paged:
        return ["Nobody was paged."]
    lines = []
    for p in found.paged[:15]:
        escalated = f" · {p.escalations} as the escalation contact" if p.escalations else ""
        lines.append(
            f"• {found.names.get(p.person, p.person)}: {p.pages} "
            f"({p.night} at night, {p.weekend} at the weekend, {p.zone}){escalated}"
        )
    return lines


def _noise(found: Figures) -> list[str]:
    lines = [
        f"• {n.source} {n.group}: {n.notifications} alerts · {n.incidents} incidents · "
        f"{n.resolved_alone} resolved by themselves"
        for n in found.noise
    ] or ["No alert came in."]
    silenced = ", ".join(f"S{s.id} ({s.reason})" for s in found.silences[:10])
    return [*lines, f"Silences in force: {silenced or 'none'}"]


def _owed(found: Figures) -> list[str]:
    return [
        f"• {found.names.get(o.owner, o.owner)}: {o.open} open, {o.overdue} overdue, "
        f"the oldest {o.oldest_days} days"
        for o in found.owed[:15]
    ] or ["None: every action item is done."]


def _chart(deps: Deps, effect: Effect, slack: WebClient) -> None:
    """Shared where it was asked for: an upload needs a channel's id, not its #name (the
    monthly digest's channel may be configured by name)."""
    data = effect.payload
    slack.files_upload_v2(
        channel=posting.channel_id(deps, slack, data["channel"]) or data["channel"],
        content=base64.b64decode(data["png"]),
        filename=data["filename"],
        title=data["title"],
        alt_txt=f"{data['title']}: the figures are in the message above",
    )


def _chart_failed(deps: Deps, effect: Effect, error: str, final: bool) -> None:
    """Slack would not take a chart there (opsbot is not in that channel, a DM between
    people): the person who asked is told, in a DM, once per report."""
    asker = effect.payload.get("asked_by")
    if final and asker and effect.payload["filename"].endswith("acknowledge.png"):
        text = (
            f"The charts of /incident stats could not be shared in <#{effect.payload['channel']}> "
            f"({error}): invite opsbot there, or ask in {deps.settings.incidents_channel}."
        )
        posting.enqueue_post(deps, asker, {"text": text})


KINDS = {CHART: Kind(_chart, "A chart of /incident stats", paced=True, on_failure=_chart_failed)}
