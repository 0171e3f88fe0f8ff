"""What goes into the digests: one function per section, each returning a Section. A source
that cannot be read gives a "failed" section saying why; the digest still posts."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import people
from bot.deps import Deps
from bot.domain.health import NOT_CONFIGURED, OK, run_all, worst
from bot.domain.incidents import insights
from bot.domain.incidents.texts import incident_summary
from bot.programs import npm_json
from bot.redact import redact
from bot.replies import mention, span

PRIORITY = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    state: str  # ok, warning, failed, not configured
    text: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def safely(key: str, title: str, build: Callable[[], Section]) -> Section:
    """A section whose source fails says so instead of sinking the digest."""
    try:
        return build()
    except Exception as exc:  # each source is independent: report and go on
        return Section(
            key,
            title,
            "failed",
            f"Could not read it: {redact(type(exc).__name__)} ({redact(str(exc))[:120]})",
        )


# Daily ---------------------------------------------------------------------------------------

_STAMP = re.compile(
    r"^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
)
_NOISE = re.compile(r"\b[0-9a-f]{8,}\b|\d+")


def error_logs(deps: Deps, now: datetime) -> Section:
    files = deps.settings.digest.log_files
    if not files:
        return Section(
            "errors", "Error logs", NOT_CONFIGURED, "No log files configured (`digest.log_files`)."
        )
    pattern = re.compile(deps.settings.digest.error_pattern)
    today: Counter[str] = Counter()
    yesterday = 0
    for path in files:
        with Path(path).open(errors="replace") as lines:
            for line in lines:
                stamp = _STAMP.match(line)
                if not stamp or not pattern.search(line):
                    continue
                at = datetime.fromisoformat(stamp.group(1).replace("Z", "+00:00"))
                at = at if at.tzinfo else at.replace(tzinfo=deps.settings.tz)
                age = now - at
                message = _NOISE.sub("#", line[stamp.end() :].strip())[:100]
                if timedelta(0) <= age < timedelta(days=1):
                    today[message] += 1
                elif timedelta(days=1) <= age < timedelta(days=2):
                    yesterday += 1
    count = sum(today.values())
    spike = count > max(10, 2 * yesterday)
    top = "\n".join(f"  • {n}× {redact(message)}" for message, n in today.most_common(3))
    text = (
        f"{count} error lines in 24 h ({yesterday} the day before)"
        + (" — *a spike*" if spike else "")
        + (f"\n{top}" if top else "")
    )
    return Section("errors", "Error logs", "warning" if spike else OK, text)


def health(deps: Deps, now: datetime) -> Section:
    readings = run_all(deps.settings, http=deps.http, mongo=deps.mongo)
    counted = [r for r in readings if r.state != NOT_CONFIGURED]
    state = worst([r.state for r in counted]) if counted else NOT_CONFIGURED
    text = " · ".join(
        f"{r.check} {r.state}" + (f" ({r.summary})" if r.state not in (OK, NOT_CONFIGURED) else "")
        for r in readings
    )
    return Section(
        "health", "Server health", "warning" if state not in (OK, NOT_CONFIGURED) else state, text
    )


def _api(deps: Deps, path: str) -> Any:
    base = deps.settings.promptbase_api_url
    if not base:
        return None
    answer = deps.http.get(base.rstrip("/") + path, timeout=deps.settings.health.timeout_seconds)
    answer.raise_for_status()
    return answer.json()


def _items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        data = data.get("data", data.get("items", data.get("feedback", [])))
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def feedback(deps: Deps, now: datetime) -> Section:
    data = _api(deps, deps.settings.digest.feedback_path)
    if data is None:
        return Section(
            "feedback", "User feedback", NOT_CONFIGURED, "PROMPTBASE_API_URL is not set."
        )
    items = sorted(_items(data), key=lambda i: PRIORITY.get(str(i.get("priority")), 9))
    urgent = sum(1 for i in items if i.get("priority") in ("critical", "high"))
    top = "\n".join(
        f"  • [{i.get('priority', '?')}] {str(i.get('title') or i.get('message'))[:80]}"
        for i in items[:3]
    )
    text = f"{len(items)} new ({urgent} high or critical)" + (f"\n{top}" if top else "")
    return Section("feedback", "User feedback", "warning" if urgent else OK, text)


def oncall(deps: Deps, now: datetime) -> Section:
    from bot.domain.oncall import who

    person = who(deps.store, deps.settings, now)
    return Section(
        "oncall",
        "On call",
        OK if person else NOT_CONFIGURED,
        mention(person) if person else "No rotation set.",
    )


def incidents(deps: Deps, now: datetime) -> Section:
    found = deps.store.incidents.find(open_only=True, limit=10)
    total = deps.store.incidents.count_incidents(open_only=True)
    text = "\n".join(f"  • {line}" for line in incident_summary(found, total)) or "None open."
    return Section("incidents", "Open incidents", "warning" if found else OK, text)


def backups(deps: Deps, now: datetime) -> Section:
    good = deps.store.backups.find(status="ok", limit=1)
    if not good:
        state = NOT_CONFIGURED if deps.mongo is None else "warning"
        return Section("backups", "Last backup", state, "No good backup yet.")
    age = now - good[0].started_at
    stale = age > timedelta(hours=36)
    return Section(
        "backups",
        "Last backup",
        "warning" if stale else OK,
        f"B{good[0].id}, {span(age)} ago" + (" — *stale*" if stale else ""),
    )


DAILY: list[tuple[str, str, Callable[[Deps, datetime], Section]]] = [
    ("errors", "Error logs", error_logs),
    ("health", "Server health", health),
    ("feedback", "User feedback", feedback),
    ("oncall", "On call", oncall),
    ("incidents", "Open incidents", incidents),
    ("backups", "Last backup", backups),
]


def _all(
    table: list[tuple[str, str, Callable[[Deps, datetime], Section]]], deps: Deps, now: datetime
) -> list[Section]:
    def one(build: Callable[[Deps, datetime], Section]) -> Callable[[], Section]:
        return lambda: build(deps, now)

    return [safely(key, title, one(build)) for key, title, build in table]


def daily(deps: Deps, now: datetime) -> list[Section]:
    return _all(DAILY, deps, now)


# Weekly --------------------------------------------------------------------------------------


def _bump(current: str, latest: str) -> str:
    now, new = (re.findall(r"\d+", v)[:3] for v in (current, latest))
    if len(now) < 3 or len(new) < 3:
        return "major"
    return "major" if now[0] != new[0] else "minor" if now[1] != new[1] else "patch"


def dependencies(deps: Deps, now: datetime) -> Section:
    dirs = deps.settings.digest.npm_dirs
    if not dirs:
        return Section("deps", "Dependencies", NOT_CONFIGURED, "No `digest.npm_dirs` configured.")
    lines, state = [], OK
    for directory in dirs:
        outdated = npm_json(Path(directory), "outdated")
        bumps = Counter(
            _bump(str(v.get("current", "0")), str(v.get("latest", "0")))
            for v in outdated.values()
            if isinstance(v, dict)
        )
        audit = npm_json(Path(directory), "audit").get("metadata", {}).get("vulnerabilities", {})
        severe = int(audit.get("high", 0)) + int(audit.get("critical", 0))
        state = "warning" if severe else state
        vulns = ", ".join(f"{audit.get(k, 0)} {k}" for k in ("critical", "high", "moderate", "low"))
        lines.append(
            f"  • {Path(directory).name}: outdated {bumps['patch']} patch, "
            f"{bumps['minor']} minor, {bumps['major']} major; vulnerabilities {vulns}"
        )
    return Section("deps", "Dependencies", state, "\n".join(lines))


def backup_checks(deps: Deps, now: datetime) -> Section:
    rows = [r for r in deps.store.backups.find(limit=20) if r.started_at > now - timedelta(days=7)]
    good = [r for r in rows if r.status == "ok"]
    failed = [r for r in rows if r.status == "failed"]
    verified = [r for r in good if r.verify_result]
    text = f"{len(good)} good, {len(failed)} failed this week; " + (
        f"last verification: {verified[0].verify_result}" if verified else "none verified this week"
    )
    return Section("backups", "Backup verification", "warning" if failed or not good else OK, text)


def performance(deps: Deps, now: datetime) -> Section:
    data = _api(deps, "/api/v1/analytics/performance?days=7")
    if data is None:
        return Section(
            "performance", "Performance", NOT_CONFIGURED, "PROMPTBASE_API_URL is not set."
        )
    numbers = data.get("data", data) if isinstance(data, dict) else {}
    keys = ("p50", "p95", "p99", "errorRate")
    this_week = {k: float(numbers[k]) for k in keys if isinstance(numbers.get(k), int | float)}
    before = json.loads(deps.store.state("digest.performance") or "{}")
    deps.store.set_state("digest.performance", json.dumps(this_week))

    def trend(key: str) -> str:
        if key not in before or not before[key]:
            return ""
        change = (this_week[key] - before[key]) / before[key] * 100
        return f" ({change:+.0f} %)"

    text = (
        " · ".join(
            f"{k} {v:g}{' ms' if k != 'errorRate' else ' %'}{trend(k)}"
            for k, v in this_week.items()
        )
        or "The API gave no numbers."
    )
    slow = this_week.get("p95", 0) > deps.settings.thresholds.p95_warning_ms
    return Section("performance", "Performance (7 days)", "warning" if slow else OK, text)


def open_bugs(deps: Deps, now: datetime) -> Section:
    data = _api(deps, "/api/v1/feedback?type=bug&status=open")
    if data is None:
        return Section("bugs", "Open bugs", NOT_CONFIGURED, "PROMPTBASE_API_URL is not set.")
    bugs = _items(data)
    return Section("bugs", "Open bugs", OK, f"{len(bugs)} open bug reports to review.")


def oncall_week(deps: Deps, now: datetime) -> Section:
    """The week on call in one line: pages (at night and at weekends, in each paged
    person's own time) and incidents opened."""
    since = now - timedelta(days=7)
    pages = deps.store.incidents.pages(since)
    who = {p.person for p in pages}
    people.learn(deps, who)  # their time zones
    paged = insights.pages_by_person(pages, deps.store.people.zones(who), deps.settings.tz)
    opened = len(deps.store.incidents.opened_since(since))
    text = f"{insights.pages_line(paged)}; {opened} incidents opened."
    return Section("oncall-week", "On call this week", OK, text)


WEEKLY: list[tuple[str, str, Callable[[Deps, datetime], Section]]] = [
    ("oncall-week", "On call this week", oncall_week),
    ("deps", "Dependencies", dependencies),
    ("backups", "Backup verification", backup_checks),
    ("performance", "Performance (7 days)", performance),
    ("bugs", "Open bugs", open_bugs),
]


def weekly(deps: Deps, now: datetime) -> list[Section]:
    return _all(WEEKLY, deps, now)
