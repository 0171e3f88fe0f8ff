"""The monthly security audit through the serve stack: a repo with planted secrets and
$where, a local site with good and bad headers, endpoints with and without a rate limit,
a stand-in npm on PATH. No planted secret may appear in anything the bot sends or logs."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.tools.localslack import LocalSlack, Message
from tests.conftest import Clock
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import programs_on_path

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
PLANTED = {
    "aws": "AKIAZ7Q2EXAMPLEK3Y9W",
    "slack": "xoxb-1234567890-abcdefghijklmnop",
    "mongo": "mongodb://admin:S3cr3tPassw0rd@db.internal:27017/pb",
    "entropy": "q8Zr3L0pW9xT2vN7mK4sB1",
    "history": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
}
SECRET_BITS = [
    "AKIAZ7Q2EXAMPLEK3Y9W",
    "1234567890-abcdefghijklmnop",
    "S3cr3tPassw0rd",
    "q8Zr3L0pW9xT2vN7mK4sB1",
    "A1b2C3d4E5f6G7h8I9j0",
]
FAKE_NPM = """#!{python}
import json
print(json.dumps({{"vulnerabilities": {{
    "lodash": {{"severity": "critical", "fixAvailable": True}},
    "minimist": {{"severity": "moderate", "fixAvailable": False}}}},
    "metadata": {{"vulnerabilities": {{"critical": 1, "high": 0, "moderate": 1, "low": 0}}}}}}))
raise SystemExit(1)
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    checkout = tmp_path / "prompt-base"
    (checkout / "backend" / "src").mkdir(parents=True)
    git(checkout, "init", "-q")
    git(checkout, "config", "user.email", "d@pb.test")
    git(checkout, "config", "user.name", "D")
    leak = checkout / "backend" / "src" / "old.js"
    leak.write_text(f"const token = '{PLANTED['history']}';\n")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "oops")
    leak.unlink()
    (checkout / "backend" / "src" / "config.js").write_text(
        "\n".join(
            [
                f"const aws = '{PLANTED['aws']}';",
                f'const slack = "{PLANTED["slack"]}";',
                f"const uri = '{PLANTED['mongo']}';",
                f"const apiKey = '{PLANTED['entropy']}';",
                "const harmless = 'hello world';",
            ]
        )
    )
    (checkout / "backend" / "src" / "search.js").write_text(
        "\n".join(
            [
                "db.prompts.find({ $where: 'this.score > ' + req.query.min });",
                "const result = eval(req.body.expression);",
                'db.users.findOne("{name: \'" + name + "\'}");',
                "db.prompts.find({ userId: req.user.id });",
            ]
        )
    )
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "current")
    return checkout


class Site:
    """/good and /bad pages; /limited answers 429 after 5 requests, /open never does."""

    def __init__(self) -> None:
        self.hits = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                code, extra = 200, {}
                if self.path == "/good":
                    extra = {
                        "Strict-Transport-Security": "max-age=63072000",
                        "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                        "X-Content-Type-Options": "nosniff",
                        "Referrer-Policy": "no-referrer",
                    }
                elif self.path == "/bad":
                    extra = {
                        "Access-Control-Allow-Origin": "*",
                        "Access-Control-Allow-Credentials": "true",
                    }
                elif self.path == "/limited":
                    site.hits += 1
                    code = 429 if site.hits > 5 else 200
                self.send_response(code)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
def stack(
    tmp_path: Path, repo: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    programs_on_path(monkeypatch, tmp_path / "bin", {"npm": FAKE_NPM})
    auth = tmp_path / "auth.log"
    auth.write_text(
        "\n".join(
            f"2026-11-{10 + i % 15:02d}T03:00:00 WARN failed login for admin from ip=203.0.113.7"
            for i in range(25)
        )
    )
    config = {
        "npm_dirs": [str(repo / "backend")],
        "public_urls": [f"{site.url}/good", f"{site.url}/bad"],
        "rate_limit_url": f"{site.url}/limited",
        "rate_limit_hosts": ["127.0.0.1"],
        "rate_limit_burst": 20,
        "auth_logs": [str(auth)],
    }
    with LocalSlack() as slack:
        running = Stack(
            slack, tmp_path / "opsbot.db", Clock(NOW), rollback_repo=repo, security=config
        )
        yield running
        running.stop()


def test_audit_reports_each_finding_once_and_leaks_nothing(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert "Posted the security audit" in stack.run("security-audit")
    [post] = [m for m in stack.slack.history("#incidents") if "Security audit" in m.text]
    text = "\n".join(b["text"]["text"] for b in post.blocks if b["type"] == "section")
    for expected in (
        "AWS access key in backend/src/config.js:1",
        "Slack token in backend/src/config.js:2",
        "MongoDB URI with a password in backend/src/config.js:3",
        "high-entropy apikey in backend/src/config.js:4",
        "GitHub token in the history of backend/src/old.js",
        "lodash (critical, fix available)",
        "/bad lets any origin read it with credentials",
        "/bad lacks HSTS",
        "429 after 6 of 20 requests",
        "25 failed logins from 203.0.113.7",
        "$where (JavaScript evaluation in MongoDB) at backend/src/search.js:1",
        "eval() at backend/src/search.js:2",
        "query built from strings at backend/src/search.js:3",
    ):
        assert text.count(expected) == 1, expected
    assert "config.js:5" not in text and "search.js:4" not in text and "/good lacks" not in text

    sent = json.dumps([c.body for c in stack.slack.calls]) + json.dumps(stack.slack.responses)
    stored = (tmp_path / "opsbot.db").read_bytes().decode("utf-8", "replace")
    for bit in SECRET_BITS:
        assert bit not in sent and bit not in caplog.text and bit not in stored, bit


def test_findings_that_persist_are_marked_and_open_a_p3(stack: Stack) -> None:
    """The second audit marks findings seen before; a critical one opens a P3 by button."""
    stack.run("security-audit")
    stack.run("security-audit", days=31)
    latest = [m for m in stack.slack.history("#incidents") if "Security audit" in m.text][-1]
    assert "(also last audit)" in json.dumps(latest.blocks)
    button = next(e for b in latest.blocks if b["type"] == "actions" for e in b["elements"])
    stack.press(button, Message(latest.channel, latest.ts, "U0OPSBOT", latest.text))
    wait_until(lambda: stack.deps.store.incidents.find(open_only=True))
    [p3] = stack.deps.store.incidents.find(open_only=True)
    assert p3.severity == "P3" and p3.title.startswith("Security: ")


def test_rate_limit_burst_only_goes_to_listed_hosts(stack: Stack, site: Site) -> None:
    """An endpoint whose host is not listed gets no request at all."""
    from bot.domain.audit import checks

    settings = stack.deps.settings.model_copy(
        update={
            "security": stack.deps.settings.security.model_copy(update={"rate_limit_hosts": []})
        }
    )
    result = checks.rate_limit(settings, stack.deps.http)
    assert result.state == "failed" and site.hits == 0


def test_open_endpoint_is_a_finding(stack: Stack, site: Site) -> None:
    """No 429 within the burst: a high finding."""
    from bot.domain.audit import checks

    policy = stack.deps.settings.security.model_copy(update={"rate_limit_url": f"{site.url}/open"})
    settings = stack.deps.settings.model_copy(update={"security": policy})
    result = checks.rate_limit(settings, stack.deps.http)
    assert result.findings[0].title.startswith("20 requests to") and result.state == "warning"
