"""Requests as Slack sends them to the bot at /slack/events: slash commands and block actions
as forms, events as JSON, each signed with the v0 signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from bot.tools.localslack.workspace import BOT_USER, TEAM, Message


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def slash_command(
    command: str, text: str, *, user: str, user_name: str, channel: str, response_url: str
) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "local",
            "channel_id": channel,
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0OPSBOT",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{time.time():.6f}.trigger",
        }
    )


def block_action(
    action: dict[str, Any], message: Message, *, user: str, user_name: str, response_url: str
) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": TEAM},
        "api_app_id": "A0OPSBOT",
        "token": "legacy",
        "trigger_id": f"{time.time():.6f}.trigger",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        },
        "team": {"id": TEAM, "domain": "local"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": "incidents"},
        "message": {**message.as_api(), "user": message.user},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def reaction_event(
    message: Message, *, user: str, name: str, added: bool, event_id: str | None = None
) -> str:
    event = {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": name,
        "item_user": message.user,
        "event_ts": f"{time.time():.6f}",
        "item": {"type": "message", "channel": message.channel, "ts": message.ts},
    }
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0OPSBOT",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM,
                    "user_id": BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
    )
