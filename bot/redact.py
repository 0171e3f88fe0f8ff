"""One redaction for everything that leaves the process (Slack, logs, SQLite, files), and a
clean environment for every program opsbot runs.

Two nets: every secret value opsbot was configured with (tokens, the signing secret, keys,
alert-source and heartbeat secrets, passwords inside URIs) is replaced wherever it appears,
and well-known secret shapes are replaced even when opsbot never saw them before (a step
that prints a token, a log line with an AWS key). What people typed is left as typed unless
it has a secret's shape: `password: reset emails not sent` is prose, `password=hunter2x9`
is not.

Redaction works on values, never on serialised text: a structure is masked string by
string (`redact_all`) and only then turned into JSON, so what is stored always parses.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from slack_sdk import WebClient

MASK = "***"

# The names a secret goes by: `api_key`, `DB_PASSWORD`, `x-auth-token`, `SECRET_KEY`...
_SECRET_NAME = (
    r"[a-z0-9_-]*(?:token|secret(?:[_-]?key)?|passw(?:or)?d|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|credentials?)"
)
_NAMED = re.compile(_SECRET_NAME, re.IGNORECASE)

# A value that is a word or words (`reset`, `expired`, `Reset-Emails`), a number, a date, a
# time or a version reads as prose, not as a credential.
_WORDS = re.compile(r"[A-Za-z]+(?:[-_.'][A-Za-z]+)*")
_NUMBERISH = re.compile(r"v?[\d\-:./+TZ]+")


def looks_random(value: str) -> bool:
    """True for a value shaped like a credential: at least 6 characters, not a word, a number
    or a date; so letters mixed with digits or symbols (`hunter2hunter2`, `pa55-w0rd!`)."""
    return (
        len(value) >= 6 and _WORDS.fullmatch(value) is None and _NUMBERISH.fullmatch(value) is None
    )


def _assignment(match: re.Match[str]) -> str:
    """`name=value`, `name: "value"`, `"name": "value"`: a quoted value after a secret's name
    is masked whatever it holds; a bare one only when it looks random (`token: expired` is
    prose). The quotes stay, so a masked JSON or shell text keeps its shape."""
    head = match.group("head")
    if match.group("quote") is not None:
        return f"{head}{match.group('quote')}{MASK}{match.group('quote')}"
    bare = match.group("bare")
    return head + MASK if looks_random(bare) else match.group(0)


def _authorization(match: re.Match[str]) -> str:
    """`Bearer <token>`: masked unless what follows is a plain word (`bearer authentication`)."""
    word = match.group("value")
    if re.fullmatch(r"[A-Z]?[a-z]+", word):
        return match.group(0)
    return f"{match.group('scheme')} {MASK}"


_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    # PEM private keys, whole (or to the end of the text when cut short)
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        "-----PRIVATE KEY " + MASK + "-----",
    ),
    # scheme://user:password@host: user and password, whatever it holds (/, @, :), up to the
    # last @. Only after a user and a colon: in https://medium.com/@ops the @ is in the path,
    # and in https://host:8080/@x the colon is a port's.
    (
        re.compile(
            r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^\s/:@'\"<>|]+:(?!\d{1,5}(?:/|$))[^\s'\"<>]+@",
            re.IGNORECASE,
        ),
        r"\g<scheme>" + MASK + "@",
    ),
    # Slack tokens and app tokens
    (re.compile(r"\bx(?:ox[abposer]|app)-[A-Za-z0-9-]{6,}"), "xox-" + MASK),
    # AWS access key ids (a secret key is caught by its name)
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "AKIA" + MASK),
    # GitHub tokens
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), "gh_" + MASK),
    # Authorization headers
    (
        re.compile(r"(?i)\b(?P<scheme>bearer|basic|oauth)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})"),
        _authorization,
    ),
    # name=value, name: value, "name": "value", name=\"value\" (inside JSON text)
    (
        re.compile(
            r"(?i)(?<![a-z0-9_-])(?P<head>" + _SECRET_NAME + r"(?:\\?[\"'])?\s*[=:]\s*)"
            r"(?:(?P<quote>\\?[\"'])(?:\\.|[^\\\n])+?(?P=quote)|(?P<bare>[^\s'\"\\&,;|<>]+))"
        ),
        _assignment,
    ),
    # The secret of an intake URL (/alerts/<kind>/<source>/<secret>, /heartbeat/<name>/<secret>),
    # whoever logs the path (waitress does, on an error)
    (
        re.compile(
            r"(?P<head>/alerts/(?:alertmanager|grafana|events)/[a-z0-9][a-z0-9_-]*/|"
            r"/heartbeat/[a-z0-9][a-z0-9_.:-]*/)[^\s/?#'\"<>|]+"
        ),
        r"\g<head>" + MASK,
    ),
]

# One quick look first: most text has none of these, and is returned as it is.
_SUSPECT = (
    "://",
    "xox",
    "xapp",
    "akia",
    "asia",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "bearer",
    "basic",
    "oauth",
    "-----begin",
    "token",
    "secret",
    "passw",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "privatekey",
    "private_key",
    "private-key",
    "credential",
    "/alerts/",
    "/heartbeat/",
    "<!",
)

_known: set[str] = set()
_longest_first: tuple[str, ...] = ()  # _known, longest first: read without the lock
_lock = threading.Lock()


def _password_of(uri: str) -> set[str]:
    try:
        password = urlsplit(uri).password
    except ValueError:
        password = None
    return {password, unquote(password)} if password else set()


def remember(*values: str | None) -> None:
    """Secret values to replace wherever they appear (configured tokens, keys, passwords).
    A URI is remembered whole and by its password."""
    found: set[str] = set()
    for value in values:
        if not value:
            continue
        found.add(value)
        if "://" in value:
            found |= _password_of(value)
    global _longest_first
    with _lock:
        _known.update(v for v in found if len(v) >= 4)
        _longest_first = tuple(sorted(_known, key=len, reverse=True))


def redact(text: str) -> str:
    """The text with every known secret and every secret-shaped string masked, and no
    broadcast mention left in it."""
    if not text:
        return text
    for value in _longest_first:
        if value in text:
            text = text.replace(value, MASK)
    lowered = text.lower()
    if not any(word in lowered for word in _SUSPECT):
        return text
    text = no_broadcast(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_BROADCAST = re.compile(
    r"<!(channel|here|everyone)(?:\|[^>]*)?>|<!subteam\^[A-Z0-9]+(?:\|@?([^>]*))?>"
)
_JOINER = "\u2060"  # a word joiner: "@channel" reads the same and notifies nobody


def no_broadcast(text: str) -> str:
    """User text reposted by the bot must not ping a channel or a user group: <!channel>,
    <!here>, <!everyone> and <!subteam^…> become plain text. User mentions stay."""

    def plain(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or "group"
        return "@" + _JOINER + name

    return _BROADCAST.sub(plain, text)


def redact_all(value: Any) -> Any:
    """Every string inside dicts, lists and tuples, redacted (a Slack message, a payload, a
    row's JSON column before it is serialised); a string under a secret's name
    (`{"password": "…"}`) is masked whole."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _field(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_all(item) for item in value)
    return value


def _field(key: Any, item: Any) -> Any:
    if isinstance(item, str) and item and isinstance(key, str) and _NAMED.fullmatch(key):
        return MASK
    return redact_all(item)


def as_json(value: Any) -> str:
    """`value` as JSON text, masked value by value first: always valid JSON."""
    return json.dumps(redact_all(value))


def _json_text(text: str) -> Any:
    """A string that holds a JSON object or list (slack_sdk serialises some arguments, such
    as files_completeUploadExternal's `files`), parsed; None for any other string."""
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


class RedactingClient(WebClient):
    """Every Web API call's arguments pass through redact_all first: nothing opsbot posts,
    updates or uploads to Slack carries a secret in clear, or a broadcast mention (opsbot
    never means to notify a whole channel; user text it reposts must not either). An
    argument already serialised to JSON is parsed, masked and serialised again."""

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        for part in ("json", "data", "params"):
            if kwargs.get(part):
                # the token argument (auth.test's) is the one secret that must reach Slack
                kwargs[part] = {
                    key: value if key == "token" else _argument(value)
                    for key, value in kwargs[part].items()
                }
        return super().api_call(api_method, **kwargs)


def _argument(value: Any) -> Any:
    if isinstance(value, str):
        parsed = _json_text(value)
        if isinstance(parsed, dict | list):
            return as_json(parsed)
    return redact_all(value)


class RedactingFilter(logging.Filter):
    """Installed on every log handler: a record's message is redacted once formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_filter(handlers: Iterable[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


# What a program opsbot runs may see of its environment: nothing of opsbot's settings.
PASSED_ON = ("PATH", "HOME", "LANG", "TZ", "TMPDIR")


def clean_env(names: Iterable[str] = ()) -> dict[str, str]:
    """PATH, HOME, LANG, LC_*, TZ, TMPDIR, and the variables a step's config names."""
    wanted = set(PASSED_ON) | set(names)
    return {
        key: value for key, value in os.environ.items() if key in wanted or key.startswith("LC_")
    }


def remember_settings(settings: Any) -> None:
    """Every secret the configuration holds, for redact(): the alert sources' and heartbeats'
    secrets too, which arrive in request paths."""
    values: list[str | None] = []
    for name in ("slack_bot_token", "slack_signing_secret", "slack_app_token", "mongodb_uri"):
        secret = getattr(settings, name, None)
        values.append(secret.get_secret_value() if secret is not None else None)
    for secret in (
        settings.oncall.pagerduty_routing_key,
        settings.status_page.statuspage_api_key,
        *(source.secret for source in settings.alerts.sources),
        *(beat.secret for beat in settings.heartbeats),
    ):
        values.append(secret.get_secret_value() if secret is not None else None)
    # A public URL is public: only a password in it is a secret (the whole webhook URL is).
    for url in settings.security.public_urls:
        values.extend(_password_of(url))
    values.append(settings.status_page.notice_webhook)
    remember(*values)
