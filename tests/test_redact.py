"""Every secret form, through every way out: Slack, the log, SQLite and files."""

from __future__ import annotations

import logging
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import redact as r
from bot.localslack import LocalSlack
from bot.store import Entry, Store

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
SECRETS = {
    "slack bot token": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "slack app token": "xapp-1-A0OPSBOT-1234567890-abcdef0123456789",
    "aws key": "AKIAIOSFODNN7EXAMPLE",
    "github token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "bearer": "Authorization: Bearer eyJhbGciOi.J9eyJzdWIiOiIx.MjM0NTY3ODkw",
    "uri with slash": "mongodb://admin:Super/SecretPw2@db.internal:27017/pb",
    "uri with at": "mongodb://admin:Sup@rSecretPw3@db.internal/pb",
    "assignment": "token=ab12cd34ef56gh78",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
    "configured signing secret": f"the secret is {SIGNING}",
}
LEAKS = [
    "1234567890-0987654321",
    "A0OPSBOT-1234567890",
    "IOSFODNN7EXAMPLE",
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "J9eyJzdWIiOiIx",
    "Super/SecretPw2",
    "SecretPw3",
    "ab12cd34ef56gh78",
    "MIIEowIBAAKCAQEA7",
    SIGNING,
]


@pytest.fixture(autouse=True)
def configured() -> None:
    r.remember(SIGNING)


def leaked(text: str) -> list[str]:
    return [leak for leak in LEAKS if leak in text]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_secret_form_is_masked(name: str) -> None:
    cleaned = r.redact(f"before {SECRETS[name]} after")
    assert leaked(cleaned) == [] and cleaned.startswith("before ") and "after" in cleaned


def test_text_without_secrets_is_left_alone() -> None:
    text = "INC-3 P1 High: Login broken · https://status.example.com/incidents/3 (ack 10:02)"
    assert r.redact(text) == text


def test_a_configured_uri_is_masked_whole_and_by_its_password() -> None:
    r.remember("mongodb://backup:pa55-w0rd!x@mongo.internal/pb")
    assert "pa55-w0rd!x" not in r.redact("driver said: auth failed for pa55-w0rd!x")


def test_slack_sqlite_and_log_never_see_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    everything = "\n".join(SECRETS.values())
    with LocalSlack() as slack:
        client = r.RedactingClient(token="xoxb-test", base_url=slack.api_base)
        client.chat_postMessage(
            channel="#incidents",
            text=everything,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": everything}}],
        )
        [posted] = slack.history("#incidents")
        assert leaked(posted.text) == [] and leaked(str(posted.blocks)) == []

    store = Store(tmp_path / "opsbot.db")
    store.migrate()
    from bot.config import Settings
    from commands.incident import service

    opened = service.open_incident(
        store,
        Settings(opsbot_db=tmp_path / "opsbot.db"),
        title="Leaky " + SECRETS["aws key"],
        severity="P2",
        actor="U1",
        now=datetime.now(UTC),
    )
    store.add_entry(opened.number, Entry(datetime.now(UTC), "U1", "note", everything))
    store.enqueue("slack.post", "slack:#x", {"text": everything})
    store_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("opsbot.db*"))
    assert leaked(store_bytes.decode("latin-1")) == []
    with sqlite3.connect(tmp_path / "opsbot.db") as db:
        assert leaked(str(db.execute("SELECT * FROM timeline").fetchall())) == []

    handler = logging.StreamHandler(open(tmp_path / "log.txt", "w"))  # noqa: SIM115
    r.install_log_filter([handler])
    logger = logging.getLogger("leaky")
    logger.addHandler(handler)
    logger.warning("step said %s", everything)
    try:
        raise RuntimeError(SECRETS["uri with at"])
    except RuntimeError:
        logger.exception("it failed")
    handler.close()
    assert leaked((tmp_path / "log.txt").read_text()) == []


def test_programs_get_a_clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRETS["slack bot token"])
    monkeypatch.setenv("MONGODB_URI", SECRETS["uri with slash"])
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "https://registry.example")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env: dict[str, Any] = r.clean_env(["NPM_CONFIG_REGISTRY"])
    assert "SLACK_BOT_TOKEN" not in env and "MONGODB_URI" not in env
    assert env["NPM_CONFIG_REGISTRY"] == "https://registry.example" and env["LC_ALL"] == "C.UTF-8"
    assert env["PATH"] and sys.executable


def test_files_and_configured_urls_are_masked_too(deps, slack: LocalSlack) -> None:  # type: ignore[no-untyped-def]
    """A post-mortem file with secrets in its timeline is uploaded masked; a password in a
    configured public URL is masked wherever it shows up."""
    from bot.config import Settings
    from commands.incident import effects, service

    r.remember_settings(
        Settings(
            opsbot_db=deps.settings.opsbot_db,
            security={"public_urls": ["https://audit:pw-Secret-9731@promptbase.example/"]},
        )
    )
    assert "pw-Secret-9731" not in r.redact("probe failed: pw-Secret-9731 rejected")

    with deps.store.atomic():
        opened = service.open_incident(
            deps.store,
            deps.settings,
            title="Leak",
            severity="P2",
            actor="U1",
            now=datetime.now(UTC),
        )
        effects.card(deps, opened.number)
        effects.file(
            deps, opened.number, "INC-1-postmortem.md", "Post-mortem", "\n".join(SECRETS.values())
        )
    deps.outbox.drain()
    [upload] = [u for u in slack.uploads.values() if u["name"] == "INC-1-postmortem.md"]
    assert upload["content"] and leaked(upload["content"]) == []
