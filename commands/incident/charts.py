"""The insights as PNG charts, drawn with matplotlib's Agg backend (no display needed), off
the request path. matplotlib is imported here, when a chart is drawn, never at start: it
takes most of a second."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from bot.domain.incidents.insights import Noise, Paged, Times

WIDTH, HEIGHT, DPI = 8, 4, 100  # an 800 x 400 image: readable in Slack's preview
COLOURS = {"P0": "#d62728", "P1": "#ff7f0e", "P2": "#e6c300", "P3": "#8c8c8c"}  # the card's


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _png(figure: Any) -> bytes:
    from matplotlib import pyplot

    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    pyplot.close(figure)
    return out.getvalue()


def response_chart(times: list[Times], label: str) -> bytes:
    """Minutes to acknowledge per severity: the median and the p90, side by side."""
    figure, axes = _figure()
    names = [t.severity for t in times]
    spots = range(len(names))
    axes.bar([x - 0.2 for x in spots], [t.ack_median or 0 for t in times], 0.4, label="median")
    axes.bar([x + 0.2 for x in spots], [t.ack_p90 or 0 for t in times], 0.4, label="p90")
    axes.set_xticks(list(spots), names)
    axes.set_ylabel("minutes to acknowledge")
    axes.set_title(f"Time to acknowledge, {label}")
    axes.legend(frameon=False)
    return _png(figure)


def weekly_chart(weeks: list[tuple[date, dict[str, int]]], label: str) -> bytes:
    """Incidents opened per week, stacked by severity."""
    figure, axes = _figure()
    days = [f"{monday:%d %b}" for monday, _ in weeks]
    bottom = [0] * len(weeks)
    for severity in weeks[0][1] if weeks else {}:
        counts = [counted[severity] for _, counted in weeks]
        colour = COLOURS.get(severity)
        axes.bar(days, counts, 0.7, bottom=bottom, label=severity, color=colour)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_ylim(0, max([*bottom, 1]) * 1.3)  # room above the bars for the legend
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel("incidents opened")
    axes.set_title(f"Incidents per week, {label}")
    axes.legend(frameon=False, ncols=4)
    axes.tick_params(axis="x", labelrotation=45)
    return _png(figure)


def pages_chart(paged: list[Paged], names: dict[str, str], label: str) -> bytes:
    """Pages per person, stacked: in the day, at night, at the weekend (their own time)."""
    figure, axes = _figure()
    shown = paged[:15]
    who = [names.get(p.person, p.person) for p in shown]
    bottom = [0] * len(shown)
    for part, colour in (("day", "#4c78a8"), ("night", "#1f2d5c"), ("weekend", "#e45756")):
        counts = [getattr(p, part) for p in shown]
        axes.bar(who, counts, 0.7, bottom=bottom, label=part, color=colour)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_ylim(0, max([*bottom, 1]) * 1.3)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel("pages")
    axes.set_title(f"Pages per person, {label}")
    axes.legend(frameon=False, ncols=3)
    return _png(figure)


def noise_chart(noise: list[Noise], label: str) -> bytes:
    """The noisiest alert groups, most first: alerts each, and the incidents they opened."""
    figure, axes = _figure()
    groups = [f"{n.source} {n.group}"[:40] for n in reversed(noise)]
    axes.barh(groups, [n.notifications for n in reversed(noise)], color="#8c8c8c", label="alerts")
    axes.barh(groups, [n.incidents for n in reversed(noise)], color="#d62728", label="incidents")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("count")
    axes.set_title(f"Noisiest alert groups, {label}")
    axes.legend(frameon=False)
    return _png(figure)
