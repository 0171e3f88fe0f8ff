"""The plan's daily health checks, each a small probe returning a Reading.

Probes run at once, each with its own timeout, so /health answers within the slowest timeout,
not the sum. A probe that is not configured says so; it is not an error. Readings never carry
a connection string or a credential: `redact` runs over every summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from bot import concurrently
from bot.config import Settings, Thresholds
from bot.redact import redact

OK, WARNING, CRITICAL, NOT_CONFIGURED = "ok", "warning", "critical", "not configured"
RANK = {NOT_CONFIGURED: 0, OK: 1, WARNING: 2, CRITICAL: 3}
CHECKS = ("api", "mongodb", "cpu", "memory", "disk", "traffic")


@dataclass(frozen=True)
class Reading:
    check: str
    state: str
    summary: str  # what people read: "200 in 42 ms", "91 % used on /"
    value: float | None = None  # the number trended in sparklines (latency, percent)
    threshold: str = ""


SERVICE_CHECKS = ("api", "mongodb", "traffic")  # Prompt-Base itself, not the bot's host


def service_monitored(readings: list[Reading]) -> bool:
    """Whether any reading is of Prompt-Base itself, not only of the bot's host."""
    return any(r.check in SERVICE_CHECKS and r.state != NOT_CONFIGURED for r in readings)


def worst(states: list[str]) -> str:
    return max(states, key=lambda s: RANK[s], default=NOT_CONFIGURED)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def probe_api(http: httpx.Client, base: str | None, timeout: float) -> Reading:
    if not base:
        return Reading("api", NOT_CONFIGURED, "PROMPTBASE_API_URL is not set")
    began = time.perf_counter()
    try:
        answer = http.get(base.rstrip("/") + "/api/v1/health", timeout=timeout)
    except httpx.TimeoutException:
        return Reading(
            "api",
            CRITICAL,
            f"service down: no answer in {timeout:g} s",
            threshold="critical: service down",
        )
    except httpx.HTTPError as exc:
        return Reading(
            "api",
            CRITICAL,
            f"service down: {type(exc).__name__}",
            threshold="critical: service down",
        )
    took = time.perf_counter() - began
    if answer.status_code >= 500 or answer.status_code == 404:
        return Reading(
            "api",
            CRITICAL,
            f"service down: HTTP {answer.status_code} in {_ms(took)}",
            took * 1000,
            "critical: service down",
        )
    body = redact(answer.text[:120].replace("\n", " "))
    return Reading("api", OK, f"HTTP {answer.status_code} in {_ms(took)}: {body}", took * 1000)


def probe_mongo(connect: Callable[[], MongoClient[Any]] | None, timeout: float) -> Reading:
    if connect is None:
        return Reading("mongodb", NOT_CONFIGURED, "MONGODB_URI is not set")
    began = time.perf_counter()
    try:
        client = connect()
        client.admin.command("ping")
        took = time.perf_counter() - began
        version = client.server_info().get("version", "?")
    except PyMongoError as exc:
        # The driver's message can carry the host list; never the URI itself, but redact anyway.
        return Reading(
            "mongodb",
            CRITICAL,
            f"DB connection failure: {redact(type(exc).__name__)}",
            threshold="critical: DB connection failure",
        )
    return Reading("mongodb", OK, f"ping in {_ms(took)}, MongoDB {version}", took * 1000)


_cpu_primed = False


def probe_cpu(limits: Thresholds) -> Reading:
    """CPU busy since the last probe (the monitor's: the last minute); the first one samples
    a fifth of a second, as psutil's first reading without an interval means nothing."""
    global _cpu_primed
    used = psutil.cpu_percent(interval=None if _cpu_primed else 0.2)
    _cpu_primed = True
    state = WARNING if used > limits.cpu_warning_percent else OK
    return Reading(
        "cpu",
        state,
        f"{used:.0f} % busy",
        used,
        f"warning > {limits.cpu_warning_percent:g} % for {limits.cpu_warning_minutes} min",
    )


def probe_memory(limits: Thresholds) -> Reading:
    used = psutil.virtual_memory().percent
    state = WARNING if used > limits.memory_warning_percent else OK
    return Reading(
        "memory",
        state,
        f"{used:.0f} % used",
        used,
        f"warning > {limits.memory_warning_percent:g} %",
    )


def probe_disk(limits: Thresholds, mounts: list[str]) -> Reading:
    worst_state, parts, highest = OK, [], 0.0
    for mount in mounts:
        used = psutil.disk_usage(mount).percent
        highest = max(highest, used)
        state = (
            CRITICAL
            if used > limits.disk_critical_percent
            else WARNING
            if used > limits.disk_warning_percent
            else OK
        )
        worst_state = worst([worst_state, state])
        parts.append(f"{used:.0f} % used on {mount}")
    return Reading(
        "disk",
        worst_state,
        ", ".join(parts),
        highest,
        f"warning > {limits.disk_warning_percent:g} %, critical > "
        f"{limits.disk_critical_percent:g} %",
    )


def probe_traffic(
    http: httpx.Client,
    base: str | None,
    path: str,
    limits: Thresholds,
    timeout: float,
    fraction: bool = False,
) -> Reading:
    """Error rate and latency percentiles from the API's analytics, when it offers them."""
    if not base:
        return Reading("traffic", NOT_CONFIGURED, "PROMPTBASE_API_URL is not set")
    try:
        answer = http.get(base.rstrip("/") + path, timeout=timeout)
        data = answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        data = None
    numbers = _performance(data, fraction)
    if numbers is None:
        return Reading("traffic", NOT_CONFIGURED, "the API's analytics gave no error rate")
    rate, p50, p95, p99 = numbers
    state = (
        CRITICAL
        if rate > limits.error_rate_critical_percent
        else WARNING
        if rate > limits.error_rate_warning_percent
        or (p95 is not None and p95 > limits.p95_warning_ms)
        else OK
    )
    latency = " · ".join(
        f"{name} {value:.0f} ms"
        for name, value in (("p50", p50), ("p95", p95), ("p99", p99))
        if value is not None
    )
    return Reading(
        "traffic",
        state,
        f"errors {rate:.1f} %" + (f" · {latency}" if latency else ""),
        rate,
        f"warning > {limits.error_rate_warning_percent:g} % or p95 > "
        f"{limits.p95_warning_ms:g} ms, critical > "
        f"{limits.error_rate_critical_percent:g} %",
    )


def _performance(
    data: Any, fraction: bool
) -> tuple[float, float | None, float | None, float | None] | None:
    """Read {errorRate|error_rate, p50, p95, p99}, at top level or under "data"."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict):
        return None
    rate = data.get("errorRate", data.get("error_rate"))
    if not isinstance(rate, int | float):
        return None
    rate = rate * 100 if fraction else rate

    def number(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) else None

    return float(rate), number("p50"), number("p95"), number("p99")


def run_all(
    settings: Settings, *, http: httpx.Client, mongo: Callable[[], MongoClient[Any]] | None
) -> list[Reading]:
    """Every check at once; one that overruns its timeout is reported as timed out."""
    timeout, limits = settings.health.timeout_seconds, settings.thresholds
    base = settings.promptbase_api_url
    probes: dict[str, Callable[[], Reading]] = {
        "api": lambda: probe_api(http, base, timeout),
        "mongodb": lambda: probe_mongo(mongo, timeout),
        "cpu": lambda: probe_cpu(limits),
        "memory": lambda: probe_memory(limits),
        "disk": lambda: probe_disk(limits, settings.health.mounts),
        "traffic": lambda: probe_traffic(
            http,
            base,
            settings.health.analytics_path,
            limits,
            timeout,
            settings.health.error_rate_is_fraction,
        ),
    }
    # A hung probe's own timeout ends it; one more second covers the thread hand-over.
    return concurrently.run_all(
        probes, timeout, lambda name, why: Reading(name, CRITICAL, why), "probe", grace=1
    )


# How each state is shown, wherever readings are (the /health answer, the App Home).
ICON = {
    OK: ":large_green_circle:",
    WARNING: ":large_yellow_circle:",
    CRITICAL: ":red_circle:",
    NOT_CONFIGURED: ":white_circle:",
}
