"""Every secret form, through every way out: Slack, the log, SQLite and files."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import redact as r
from bot.store import Change, Entry, Incident, Store
from bot.tools.localslack import LocalSlack

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
    from bot.domain.incidents import service

    opened = service.open_incident(
        store,
        Settings(opsbot_db=tmp_path / "opsbot.db"),
        title="Leaky " + SECRETS["aws key"],
        severity="P2",
        actor="U1",
        now=datetime.now(UTC),
    )
    store.incidents.add_entry(opened.number, Entry(datetime.now(UTC), "U1", "note", everything))
    store.outbox.enqueue("slack.post", "slack:#x", {"text": everything})
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
    from bot.domain.incidents import effects, service

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


# What people type stays as typed; only a secret's shape is masked. (text, what must go)
TRUE_SECRETS = [
    ("password=hunter2hunter2", "hunter2hunter2"),
    ('the alert says password="hunter2hunter2" in its label', "hunter2hunter2"),
    ("password='x'", "'x'"),
    ("mongodb://user:p%40ss/word@host/db", "p%40ss/word"),
    ("api_key=Zq8xv0Lr2mT9", "Zq8xv0Lr2mT9"),
    ("DB_PASSWORD: s3cr3t-Pw!", "s3cr3t-Pw!"),
    ("SECRET_KEY=django-insecure-9x!2k", "django-insecure-9x!2k"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
    ("xoxb-1234567890-0987654321-AbCdEfGhIjKl", "1234567890-0987654321"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
    ("Authorization: Bearer eyJhbGciOi.J9eyJzdWIiOiIx", "eyJhbGciOi"),
    ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ('{"token": "abc", "x": "password=\\"hunter2\\""}', "hunter2"),
    ("Exception while serving /alerts/alertmanager/prom/am-s3cret-99", "am-s3cret-99"),
    ("Client disconnected while serving /heartbeat/cron-report/hb-s3cret", "hb-s3cret"),
]
FALSE_SECRETS = [
    "password: reset emails not sent",
    "Secret: the signup page 404s",
    "token: expired",
    "Password reset link broken for 3 users",
    "https://medium.com/@ops/postmortem",
    "<https://medium.com/@ops/postmortem|the post-mortem>",
    "https://api.example.com:8443/@v2/users",
    "bearer authentication fails on /login",
    "Basic authentication is off",
    "the token=expired path is fine",
    "GET /alerts on the status page",
]


@pytest.mark.parametrize(("text", "secret"), TRUE_SECRETS)
def test_a_secret_shape_is_masked(text: str, secret: str) -> None:
    """Each secret shape loses its secret, keeps what surrounds it, and a second pass changes
    nothing more."""
    cleaned = r.redact(text)
    assert secret not in cleaned and r.MASK in cleaned
    assert r.redact(cleaned) == cleaned


@pytest.mark.parametrize("text", FALSE_SECRETS)
def test_what_people_typed_stays_as_typed(text: str) -> None:
    """Prose that merely names a secret, a URL with @ in its path or a port, is left alone."""
    assert r.redact(text) == text


def test_link_markup_survives_a_masked_query() -> None:
    """A token in a link's query is masked and the link keeps its label."""
    text = "see <https://x.example/a?token=abc123def456ghi|the link> now"
    assert r.redact(text) == "see <https://x.example/a?token=***|the link> now"


def test_a_value_under_a_secret_name_is_masked_whole() -> None:
    """In a structure the key says what the value is: {"password": "reset"} is a password."""
    masked = r.redact_all({"password": "reset", "api_key": "k", "note": "password: reset"})
    assert masked == {"password": "***", "api_key": "***", "note": "password: reset"}


def test_intake_secrets_are_remembered_and_a_public_url_is_not() -> None:
    """Alert-source and heartbeat secrets are configured secrets; a public URL is public,
    only a password in it is not."""
    from bot.config import Settings

    r.remember_settings(
        Settings(
            alerts={"sources": [{"name": "prom", "kind": "grafana", "secret": "src-9k2-z7q"}]},
            heartbeats=[{"name": "cron", "interval_minutes": 5, "secret": "hb-4x8-w2p"}],
            security={"public_urls": ["https://www.example.org/", "https://a:pw-Q7z1@b.org/"]},
        )
    )
    said = "got src-9k2-z7q and hb-4x8-w2p from https://www.example.org/ and pw-Q7z1"
    assert r.redact(said) == "got *** and *** from https://www.example.org/ and ***"


# Structures of text holding secrets, quotes and backslashes: what redaction is given.
FRAGMENTS = [
    'password="hunter2hunter2"',
    "password='hunter2hunter2'",
    "token=ab12cd34ef56gh78",
    "mongodb://admin:Sup@r/Secret9@db/pb",
    "xoxb-1234567890-0987654321-AbCd",
    "Bearer eyJhbGciOi.J9eyJzdWIiOiIx",
    "password: reset emails not sent",
    "<https://x.example/a?token=abc123def456ghi|the link>",
    "<!channel>",
]
SECRETS_IN_FRAGMENTS = ["hunter2hunter2", "ab12cd34ef56gh78", "Secret9", "1234567890", "eyJhbGc"]
_safe_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(["a", "note:", "x=1", "\\", "é"])),
    max_size=4,
).map(" ".join)
_any_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=10)), max_size=4).map(
    "".join
)
_keys = st.one_of(st.sampled_from(["password", "labels", "description", "token", "n"]), st.text())


def _structures(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(leaves, st.integers(), st.none()),
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner)),
        max_leaves=12,
    )


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


@given(_structures(_any_text))
@settings(max_examples=150)
def test_masked_then_serialised_is_always_valid_json_of_the_same_shape(value: Any) -> None:
    """Whatever the strings hold, masking a structure then serialising it gives JSON that
    parses back to the same keys, lengths and types."""
    text = r.as_json(value)
    assert _shape(json.loads(text)) == _shape(value)
    assert json.loads(json.dumps(r.redact_all(value))) == json.loads(text)


@given(_structures(_safe_text))
@settings(max_examples=150)
def test_no_secret_survives_in_a_structure(value: Any) -> None:
    """Every secret in a structure's strings is masked, and masking twice changes nothing."""
    text = r.as_json(value)
    assert [s for s in SECRETS_IN_FRAGMENTS if s in text] == []
    assert r.redact_all(r.redact_all(value)) == r.redact_all(value)


def test_the_store_keeps_typed_text_and_valid_json(tmp_path: Path) -> None:
    """A timeline note is stored as typed unless it holds a secret; an alert's labels and a
    digest's sections quoting password="…" are stored masked and read back."""
    store = Store(tmp_path / "opsbot.db")
    store.migrate()
    now = datetime.now(UTC)
    opened = store.incidents.open_incident(
        Incident(0, "t", "P2", "open", "U1", "U1", now), Change()
    )
    for text in [*FALSE_SECRETS, "password=hunter2hunter2"]:
        store.incidents.add_entry(opened.number, Entry(now, "U1", "note", text, source=text))
    stored = [e.text for e in store.incidents.timeline(opened.number)]
    assert stored == [*FALSE_SECRETS, "password=***"]

    quoted = 'login failed: password="hunter2hunter2" for token="t0k3n-99"'
    store.digests.add_digest(
        "daily", "2026-11-30", "C1", "1.2", now, [{"key": "e", "text": quoted}]
    )
    [digest] = store.digests.find("2026-11-30", "2026-11-30")
    assert digest.sections == [{"key": "e", "text": 'login failed: password="***" for token="***"'}]
    alert = {
        "source": "prom",
        "fingerprint": "f1",
        "status": "firing",
        "severity": "warning",
        "summary": quoted,
        "labels": {"alertname": "Login", "note": quoted},
        "group_key": "g",
        "url": None,
        "incident_id": None,
        "silenced_by": None,
        "first_seen": now,
        "last_seen": now,
        "resolved_at": None,
        "repeats": 0,
    }
    store.alerts.save_alert(alert)
    store.alerts.save_alert({**alert, "repeats": 1})  # the update path masks as well
    [row] = store.alerts.find()
    assert row.labels["note"] == 'login failed: password="***" for token="***"' and row.repeats == 1
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("opsbot.db*"))
    assert b"hunter2hunter2" not in raw and b"t0k3n-99" not in raw


def test_an_argument_slack_sdk_serialised_is_masked_as_json() -> None:
    """files_upload_v2 sends its files as JSON text: a title ending in a cut-short PEM key is
    masked inside that JSON, and the upload still lands with its title."""
    title = "Deploy notes -----BEGIN PRIVATE KEY-----MIIEvQIBADANBg"
    with LocalSlack() as slack:
        client = r.RedactingClient(token="xoxb-test", base_url=slack.api_base)
        client.files_upload_v2(channel="C0INC", content="notes", filename="n.md", title=title)
        [upload] = slack.history("C0INC")[0].files
    assert upload["title"] == "Deploy notes -----PRIVATE KEY ***-----"
