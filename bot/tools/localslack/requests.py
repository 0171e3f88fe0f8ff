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


def trigger(user: str) -> str:
    """A trigger_id as Slack hands one out with a command, click or shortcut: for one
    views.open, within 3 s (the local Slack reads both from it)."""
    return f"{time.time():.6f}.{user}"


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
            "trigger_id": trigger(user),
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
        "trigger_id": trigger(user),
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


def home_action(action: dict[str, Any], view: dict[str, Any], *, user: str) -> str:
    """A button pressed on the App Home tab: the container is the published view, and there
    is no channel, message or response_url to answer in (block_actions reference)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user, "name": user, "team_id": TEAM},
        "api_app_id": "A0OPSBOT",
        "token": "legacy",
        "trigger_id": trigger(user),
        "container": {"type": "view", "view_id": "VHOME0001"},
        "team": {"id": TEAM, "domain": "local"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {**view, "id": "VHOME0001", "state": {"values": {}}},
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


def message_shortcut(
    callback_id: str, message: Message, *, user: str, user_name: str, response_url: str
) -> str:
    """A message shortcut chosen on `message` (Slack's "message_action" payload)."""
    payload = {
        "type": "message_action",
        "token": "legacy",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM, "domain": "local"},
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": TEAM},
        "channel": {"id": message.channel, "name": message.channel},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger(user),
        "response_url": response_url,
        "message_ts": message.ts,
        "message": {**message.as_api(), "user": message.user},
    }
    return urlencode({"payload": json.dumps(payload)})


def view_submission(view: dict[str, Any], values: dict[str, Any], *, user: str) -> str:
    """The modal `view` (as views.open answered it) submitted with `values`: {block_id:
    {action_id: value}}, each value a string (a text input), an option's value (a select,
    radio buttons) or a list of them (checkboxes), shaped as Slack shapes each."""
    state: dict[str, dict[str, Any]] = {}
    elements = {
        block["block_id"]: block["element"]
        for block in view.get("blocks") or []
        if block.get("type") == "input"
    }
    for block_id, answers in values.items():
        for action_id, value in answers.items():
            kind = elements[block_id]["type"]
            if kind in ("static_select", "radio_buttons"):
                state.setdefault(block_id, {})[action_id] = {
                    "type": kind,
                    "selected_option": {
                        "value": value,
                        "text": {"type": "plain_text", "text": value},
                    },
                }
            elif kind == "checkboxes":
                state.setdefault(block_id, {})[action_id] = {
                    "type": kind,
                    "selected_options": [{"value": v} for v in value],
                }
            else:
                state.setdefault(block_id, {})[action_id] = {"type": kind, "value": value}
    payload = {
        "type": "view_submission",
        "token": "legacy",
        "team": {"id": TEAM, "domain": "local"},
        "user": {"id": user, "username": user, "name": user, "team_id": TEAM},
        "api_app_id": "A0OPSBOT",
        "trigger_id": trigger(user),
        "view": {**view, "state": {"values": state}},
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode({"payload": json.dumps(payload)})
