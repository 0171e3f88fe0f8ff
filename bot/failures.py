"""What a failed call to Slack or a third party means: may it pass if sent again, or did the
other side say no for good? One answer for the outbox, the inbox and the token check, and a
short, safe way to say what happened (never the exception's text, which may carry a URL with
a secret in it)."""

from __future__ import annotations

from typing import Any
from urllib.error import URLError

import httpx
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError

from bot.store import StoreBusy

# Slack errors after which the operation may have been done in part, by Slack's own words.
SLACK_MAYBE_DONE = {"fatal_error", "internal_error", "request_timeout", "service_unavailable"}
# Slack answers that may pass if the same request is sent again.
SLACK_TRANSIENT = {
    "ratelimited",
    "rate_limited",
    "service_unavailable",
    "fatal_error",
    "internal_error",
    "request_timeout",
    "timeout",
}
# Not this row's fault: the token or the app's installation. Retried until the give-up time,
# since an operator fixing the setup makes every row deliverable again.
SLACK_SETUP = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "team_access_not_granted",
    "ekm_access_denied",
}


class Dropped(Exception):
    """Nothing is left to deliver (the message to update was deleted): the row is dropped."""


def failure_text(exc: BaseException) -> str:
    """Short and safe: Slack's error code, an HTTP status, or the exception's type. Never the
    exception's text, which may carry a URL with a secret in it."""
    if isinstance(exc, SlackApiError):
        return f"Slack {slack_error(exc)}" + (
            f" (HTTP {_status(exc)})" if _status(exc) not in (0, 200) else ""
        )
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, Dropped):
        return str(exc)
    if timed_out(exc):
        return "timed out"
    return type(exc).__name__


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"


def _status(exc: SlackApiError) -> int:
    return exc.response.status_code if exc.response is not None else 0


def timed_out(exc: BaseException) -> bool:
    """No answer in time: the request may still have reached the other side."""
    return isinstance(exc, TimeoutError | httpx.TimeoutException) or (
        isinstance(exc, URLError) and isinstance(exc.reason, TimeoutError)
    )


def may_have_landed(exc: BaseException) -> bool:
    """Could the failed request have taken effect all the same? Slack says so of its own
    errors ("it's possible some aspect of the operation succeeded"), and a request with no
    answer may have arrived. Only a plain no (a refusal, a 429) or a connection never made
    rules it out."""
    if isinstance(exc, SlackApiError):
        return _status(exc) >= 500 or slack_error(exc) in SLACK_MAYBE_DONE
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 408
    never_sent = httpx.ConnectError | ConnectionRefusedError
    if isinstance(exc, URLError):
        return not isinstance(exc.reason, never_sent)
    return not isinstance(exc, never_sent)


def transient(exc: BaseException) -> bool:
    """May the same request pass if it is sent again later?"""
    if isinstance(exc, SlackApiError):
        code = slack_error(exc)
        return _status(exc) >= 500 or _status(exc) == 429 or code in SLACK_TRANSIENT | SLACK_SETUP
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status >= 500 or status in (408, 409, 425, 429)
    return isinstance(exc, OSError | httpx.TransportError | StoreBusy | OperationalError)


def refused(exc: BaseException) -> bool:
    """Did the other side say no to this request for good?"""
    if isinstance(exc, SlackApiError | httpx.HTTPStatusError):
        return not transient(exc)
    return False


def retry_after(exc: BaseException) -> float | None:
    """Seconds a 429 asks us to wait, if it was one."""
    response: Any = None
    if isinstance(exc, SlackApiError | httpx.HTTPStatusError):
        response = exc.response
    if response is None or getattr(response, "status_code", 0) != 429:
        return None
    headers = {str(k).lower(): v for k, v in dict(response.headers or {}).items()}
    value = headers.get("retry-after", "1")
    value = value[0] if isinstance(value, list) else value
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0
