"""Prompt-Base's own services, over the network: its API and its MongoDB answer."""

from __future__ import annotations

from typing import Any

import httpx

from bot.config import Settings
from bot.tools.doctor.result import FAIL, OK, TIMEOUT, Context, Result


def targets(ctx: Context) -> list[Result]:
    s, found = ctx.settings, []
    if s.promptbase_api_url:
        try:
            answer = httpx.get(s.promptbase_api_url, timeout=TIMEOUT)
            state = OK if answer.status_code < 500 else FAIL
            found.append(
                Result(
                    "Prompt-Base API",
                    state,
                    f"{s.promptbase_api_url} answered {answer.status_code}",
                    "check the service",
                )
            )
        except httpx.HTTPError as exc:
            found.append(
                Result(
                    "Prompt-Base API",
                    FAIL,
                    f"{s.promptbase_api_url}: no answer ({type(exc).__name__})",
                    "check PROMPTBASE_API_URL and that the API is up",
                )
            )
    if s.mongodb_uri is not None:
        found.append(_mongodb(s))
    return found


def _mongodb(s: Settings) -> Result:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    assert s.mongodb_uri is not None
    wait_ms = int(s.health.timeout_seconds * 1000)  # as long as /health mongodb waits
    client: MongoClient[Any] = MongoClient(
        s.mongodb_uri.get_secret_value(), serverSelectionTimeoutMS=wait_ms, connectTimeoutMS=wait_ms
    )
    try:
        client.admin.command("ping")
        version = client.server_info().get("version", "?")
    except PyMongoError as exc:  # the URI (and its password) is never shown
        return Result(
            "MongoDB", FAIL, f"no answer ({type(exc).__name__})", "check MONGODB_URI and the server"
        )
    finally:
        client.close()
    return Result("MongoDB", OK, f"ping ok, version {version}")
