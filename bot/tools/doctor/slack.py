"""Slack, over the network: the bot token and its scopes, the clock against Slack's, the
signing secret or Socket Mode's app-level token, and the bot in its channels."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.config import Settings
from bot.tools.doctor.result import FAIL, OK, TIMEOUT, Context, Result
from bot.tools.init import SCOPE_USES, SCOPES

SKEW_SECONDS = 60  # request signatures carry a 5-minute window; a minute off is worth a fix


def slack_token(ctx: Context) -> list[Result]:
    s = ctx.settings
    if s.slack_bot_token is None or not s.slack_bot_token.get_secret_value():
        return [
            Result(
                "bot token",
                FAIL,
                "SLACK_BOT_TOKEN is not set",
                "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions",
            )
        ]
    try:
        answer = _slack(s, "auth.test", s.slack_bot_token.get_secret_value())
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        return [
            Result(
                "bot token",
                FAIL,
                f"cannot reach Slack at {s.slack_api_url} ({type(exc).__name__})",
                "check the network, a proxy, or SLACK_API_URL",
            )
        ]
    if not body.get("ok"):
        return [
            Result(
                "bot token",
                FAIL,
                f"Slack refused SLACK_BOT_TOKEN ({body.get('error', answer.status_code)})",
                "copy the Bot User OAuth Token (xoxb-…) again; reinstall the app if it was revoked",
            )
        ]
    ctx.auth = answer
    results = [
        Result("bot token", OK, f"@{body.get('user')} in {body.get('team')} ({body.get('url')})")
    ]
    granted = {x.strip() for x in answer.headers.get("x-oauth-scopes", "").split(",") if x}
    missing, extra = sorted(set(SCOPES) - granted), sorted(granted - set(SCOPES))
    if missing:
        lost = "; ".join(f"{scope} ({SCOPE_USES[scope]})" for scope in missing)
        results.append(
            Result(
                "scopes",
                FAIL,
                f"missing {lost}" + (f"; extra {', '.join(extra)}" if extra else ""),
                "update the app from opsbot's manifest (App Manifest), then reinstall it",
            )
        )
    else:
        more = f"; extra, not needed: {', '.join(extra)}" if extra else ""
        results.append(Result("scopes", OK, f"all {len(SCOPES)} the manifest asks for{more}"))
    results.append(_clock(answer))
    return results


def _slack(
    s: Settings, method: str, token: str, form: dict[str, str] | None = None
) -> httpx.Response:
    """One Web API call with plain httpx: the doctor reads the answer's headers too."""
    return httpx.post(
        s.slack_api_url + method,
        headers={"Authorization": f"Bearer {token}"},
        data=form,
        timeout=TIMEOUT,
    )


def _clock(answer: httpx.Response) -> Result:
    try:
        theirs = parsedate_to_datetime(answer.headers["date"])
    except (KeyError, TypeError, ValueError):
        return Result("clock", OK, "Slack sent no Date header to compare with")
    skew = (datetime.now(UTC) - theirs).total_seconds()
    if abs(skew) > SKEW_SECONDS:
        return Result(
            "clock",
            FAIL,
            f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Slack's",
            "run NTP (timedatectl set-ntp true): Slack's signatures are only good for 5 min",
        )
    return Result("clock", OK, f"within {abs(skew):.0f} s of Slack's")


def mode(ctx: Context) -> Result:
    s = ctx.settings
    if not ctx.socket:
        if s.slack_signing_secret is None or not s.slack_signing_secret.get_secret_value():
            return Result(
                "signing secret",
                FAIL,
                "SLACK_SIGNING_SECRET is not set",
                "copy it from Basic Information → App Credentials",
            )
        return Result("signing secret", OK, "set (Slack's requests are checked with it)")
    if s.slack_app_token is None or not s.slack_app_token.get_secret_value():
        return Result(
            "socket mode",
            FAIL,
            "SLACK_APP_TOKEN is not set",
            "create an App-Level Token with connections:write (Basic Information)",
        )
    try:
        body = _slack(s, "apps.connections.open", s.slack_app_token.get_secret_value()).json()
    except (httpx.HTTPError, ValueError) as exc:
        return Result("socket mode", FAIL, f"no answer ({type(exc).__name__})", "check network")
    if not body.get("ok"):
        return Result(
            "socket mode",
            FAIL,
            f"Slack refused SLACK_APP_TOKEN ({body.get('error')})",
            "an App-Level Token with connections:write, and Socket Mode on in the app settings",
        )
    return Result("socket mode", OK, "apps.connections.open works with SLACK_APP_TOKEN")


def channels(ctx: Context) -> list[Result]:
    """The bot must be in the incidents and digest channels: Slack sends reaction events
    only from conversations an app is a member of."""
    if ctx.auth is None:
        return []  # the token check said why
    s = ctx.settings
    wanted = list(dict.fromkeys([s.incidents_channel, s.digest_target]))
    token = s.slack_bot_token.get_secret_value() if s.slack_bot_token else ""
    listed: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(10):
        body = _slack(
            s,
            "conversations.list",
            token,
            {
                "types": "public_channel,private_channel",
                "exclude_archived": "true",
                "limit": "1000",
                "cursor": cursor,
            },
        ).json()
        if not body.get("ok"):
            return [Result("channels", FAIL, f"cannot list ({body.get('error')})", "scopes")]
        listed += body.get("channels") or []
        cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            break
    results = []
    for channel in wanted:
        found = next(
            (c for c in listed if c.get("id") == channel or "#" + str(c.get("name")) == channel),
            None,
        )
        if found is None:
            results.append(
                Result(
                    f"channel {channel}",
                    FAIL,
                    "not found (or private and the bot is not in it)",
                    f"create {channel}, or set INCIDENTS_CHANNEL / digest_channel",
                )
            )
        elif not found.get("is_member"):
            results.append(
                Result(
                    f"channel {channel}",
                    FAIL,
                    "the bot is not a member: reactions there (pins, reviews) never reach it",
                    f"in Slack, /invite @opsbot in {channel}",
                )
            )
        else:
            results.append(Result(f"channel {channel}", OK, "the bot is a member and can post"))
    return results
