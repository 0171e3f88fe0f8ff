"""The plan's monthly security audit, one function per check. A finding names a place and a
kind, never a secret: secrets are reduced to a fingerprint (the first 12 hex of a SHA-256)."""

from __future__ import annotations

import hashlib
import math
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot.config import Settings
from bot.programs import git_argv, npm_json
from bot.redact import clean_env

SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    title: str  # what and where, e.g. "AWS access key in config/prod.js:12"
    fingerprint: str


@dataclass
class Result:
    check: str
    title: str
    state: str  # ok, warning, critical, failed, not configured
    summary: str
    findings: list[Finding] = field(default_factory=list)


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _state(findings: list[Finding]) -> str:
    if any(f.severity == "critical" for f in findings):
        return "critical"
    return "warning" if any(f.severity in ("high", "medium") for f in findings) else "ok"


# Dependencies ------------------------------------------------------------------------------


def dependencies(settings: Settings) -> Result:
    dirs = settings.security.npm_dirs or settings.digest.npm_dirs
    if not dirs:
        return Result("deps", "Dependencies", "not configured", "No npm project dirs configured.")
    findings, totals = [], Counter[str]()
    for directory in dirs:
        report = npm_json(Path(directory), "audit")
        counts = report.get("metadata", {}).get("vulnerabilities", {})
        totals.update({k: int(counts.get(k, 0)) for k in SEVERITIES})
        for name, advisory in (report.get("vulnerabilities") or {}).items():
            severity = str(advisory.get("severity", "low"))
            if severity in ("critical", "high"):
                fix = "fix available" if advisory.get("fixAvailable") else "no fix yet"
                findings.append(
                    Finding(
                        "deps",
                        severity,
                        f"{name} ({severity}, {fix}) in {Path(directory).name}",
                        fingerprint("deps", name),
                    )
                )
    summary = ", ".join(f"{totals[k]} {k}" for k in SEVERITIES)
    return Result("deps", "Dependencies", _state(findings), summary, findings)


# Secrets -----------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "Slack token": re.compile(r"xox[abprs]-[0-9A-Za-z-]{10,}"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "MongoDB URI with a password": re.compile(r"mongodb(?:\+srv)?://[^:/\s@]+:[^@\s]+@"),
}
_ASSIGNED = re.compile(
    r"(?i)(secret|token|passw(?:or)?d|api[_-]?key)[\"']?\s*[:=]\s*"
    r"[\"']([^\"'\s]{16,})[\"']"
)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _scan_line(line: str) -> list[tuple[str, str]]:
    found = [
        (kind, match.group(0))
        for kind, pattern in SECRET_PATTERNS.items()
        for match in pattern.finditer(line)
    ]
    for match in _ASSIGNED.finditer(line):
        if _entropy(match.group(2)) > 3.5 and not any(s in match.group(2) for _, s in found):
            found.append(("high-entropy " + match.group(1).lower(), match.group(2)))
    return found


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        git_argv(repo, *args),  # the release checkout, trusted as /rollback trusts it
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
        errors="replace",
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed")
    return done.stdout


def secrets(settings: Settings) -> Result:
    if settings.rollback_repo is None:
        return Result("secrets", "Secrets", "not configured", "ROLLBACK_REPO is not set.")
    repo = Path(settings.rollback_repo)
    findings: dict[str, Finding] = {}
    for name in _git(repo, "ls-files", "-z").split("\0"):
        path = repo / name
        if not name or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for kind, secret in _scan_line(line):
                mark = fingerprint(secret)
                findings.setdefault(
                    mark, Finding("secrets", "critical", f"{kind} in {name}:{number}", mark)
                )
    current_file = "?"
    history = _git(repo, "log", "-p", "--since=90.days", "--format=", "--no-color", "-U0")
    for line in history.splitlines():
        if line.startswith("+++ b/"):
            current_file = line[6:]
        elif line.startswith("+") and not line.startswith("+++"):
            for kind, secret in _scan_line(line):
                mark = fingerprint(secret)
                findings.setdefault(
                    mark,
                    Finding(
                        "secrets",
                        "critical",
                        f"{kind} in the history of {current_file} (removed "
                        "from the files, still in git: rotate it)",
                        mark,
                    ),
                )
    found = list(findings.values())
    summary = f"{len(found)} secrets found" if found else "no secrets found"
    return Result("secrets", "Secrets", _state(found), summary, found)


# Headers and CORS --------------------------------------------------------------------------

WANTED_HEADERS = {
    "strict-transport-security": "HSTS",
    "content-security-policy": "CSP",
    "x-content-type-options": "X-Content-Type-Options",
    "referrer-policy": "Referrer-Policy",
}
FOREIGN_ORIGIN = "https://audit.invalid"


def headers(settings: Settings, http: httpx.Client) -> Result:
    urls = settings.security.public_urls
    if not urls:
        return Result("headers", "Headers and CORS", "not configured", "No public URLs configured.")
    findings = []
    for url in urls:
        answer = http.get(url, headers={"Origin": FOREIGN_ORIGIN}, timeout=10)
        got = {k.lower(): v for k, v in answer.headers.items()}
        missing = [label for key, label in WANTED_HEADERS.items() if key not in got]
        framing = "x-frame-options" in got or "frame-ancestors" in got.get(
            "content-security-policy", ""
        )
        if not framing:
            missing.append("X-Frame-Options/frame-ancestors")
        if missing:
            findings.append(
                Finding(
                    "headers",
                    "medium",
                    f"{url} lacks {', '.join(missing)}",
                    fingerprint("headers", url, *missing),
                )
            )
        allowed = got.get("access-control-allow-origin", "")
        credentials = got.get("access-control-allow-credentials", "").lower() == "true"
        if allowed in ("*", FOREIGN_ORIGIN) and credentials:
            findings.append(
                Finding(
                    "headers",
                    "critical",
                    f"{url} lets any origin read it with credentials (CORS)",
                    fingerprint("cors", url),
                )
            )
        elif allowed == FOREIGN_ORIGIN:
            findings.append(
                Finding(
                    "headers",
                    "high",
                    f"{url} reflects any Origin in CORS",
                    fingerprint("cors-reflect", url),
                )
            )
    summary = f"{len(urls)} URLs graded, {len(findings)} findings"
    return Result("headers", "Headers and CORS", _state(findings), summary, findings)


# Rate limiting -----------------------------------------------------------------------------


def rate_limit(settings: Settings, http: httpx.Client) -> Result:
    policy = settings.security
    if not policy.rate_limit_url:
        return Result("ratelimit", "Rate limiting", "not configured", "No endpoint configured.")
    host = urlsplit(policy.rate_limit_url).hostname
    if host not in policy.rate_limit_hosts:
        return Result(
            "ratelimit",
            "Rate limiting",
            "failed",
            f"{host} is not in security.rate_limit_hosts: no burst was sent.",
        )
    for sent in range(1, policy.rate_limit_burst + 1):
        if http.get(policy.rate_limit_url, timeout=10).status_code == 429:
            return Result(
                "ratelimit",
                "Rate limiting",
                "ok",
                f"429 after {sent} of {policy.rate_limit_burst} requests",
            )
    finding = Finding(
        "ratelimit",
        "high",
        f"{policy.rate_limit_burst} requests to "
        f"{policy.rate_limit_url} were all served: no rate limit",
        fingerprint("ratelimit", policy.rate_limit_url),
    )
    return Result("ratelimit", "Rate limiting", "warning", "no 429 within the burst", [finding])


# Authentication logs -----------------------------------------------------------------------

_STAMP = re.compile(r"^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})")


def auth_logs(settings: Settings, now: datetime) -> Result:
    files = settings.security.auth_logs
    if not files:
        return Result("auth", "Authentication logs", "not configured", "No auth logs configured.")
    pattern = re.compile(settings.security.failed_login_pattern)
    sources: Counter[str] = Counter()
    last_day = 0
    for path in files:
        for line in Path(path).read_text(errors="replace").splitlines():
            stamp, match = _STAMP.match(line), pattern.search(line)
            if not stamp or not match:
                continue
            at = datetime.fromisoformat(stamp.group(1)).replace(tzinfo=settings.tz)
            if timedelta(0) <= now - at <= timedelta(days=30):
                sources[match.group("source")] += 1
                last_day += now - at <= timedelta(days=1)
    total = sum(sources.values())
    average = total / 30
    findings = [
        Finding(
            "auth",
            "high",
            f"{n} failed logins from {source} in 30 days",
            fingerprint("auth", source),
        )
        for source, n in sources.most_common(3)
        if n >= 20
    ]
    if last_day > max(10, 3 * average):
        findings.append(
            Finding(
                "auth",
                "high",
                f"{last_day} failed logins in the last 24 h "
                f"(a spike: {average:.0f} a day on average)",
                fingerprint("auth-spike", now.date().isoformat()),
            )
        )
    summary = f"{total} failed logins in 30 days from {len(sources)} sources"
    return Result("auth", "Authentication logs", _state(findings), summary, findings)


# Injection-prone code ----------------------------------------------------------------------

RISKY = {
    "$where (JavaScript evaluation in MongoDB)": re.compile(r"\$where"),
    "eval()": re.compile(r"\beval\s*\("),
    "new Function()": re.compile(r"\bnew\s+Function\s*\("),
    "query built from strings": re.compile(
        r"\.(?:find|findOne|aggregate|query|exec)\s*\([^)]*(?:\"\s*\+|\+\s*\"|`[^`]*\$\{)"
    ),
}


def injection(settings: Settings) -> Result:
    if settings.rollback_repo is None:
        return Result("code", "Injection-prone code", "not configured", "ROLLBACK_REPO is not set.")
    root = Path(settings.rollback_repo) / settings.security.code_dir
    findings = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".js", ".ts", ".mjs", ".cjs") or "node_modules" in path.parts:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for kind, pattern in RISKY.items():
                if pattern.search(line):
                    where = f"{path.relative_to(root.parent)}:{number}"
                    findings.append(
                        Finding(
                            "code", "medium", f"{kind} at {where}", fingerprint("code", kind, where)
                        )
                    )
    summary = f"{len(findings)} places to review" if findings else "nothing found"
    return Result("code", "Injection-prone code", _state(findings), summary, findings)
