"""opsbot.toml as `opsbot init` writes it: every setting of bot/config.py, commented out at
its default (the plan's value) or with an example, each line valid TOML once uncommented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from bot.config import Settings

MEMBER_IDS = """\
# People are Slack member ids (U0123ABCD), never names: in Slack, click the person's name,
# open their full profile, press ⋮ (More) and "Copy member ID". A user group id (S0123ABCD)
# is in the group's link. Channels are "#name" or an id (C0123ABCD: the channel's name →
# About, at the bottom)."""

# Values shown for settings that are not set by default: what one looks like.
EXAMPLES: dict[str, str] = {
    "slack_bot_token": '"xoxb-your-bot-token"',
    "slack_signing_secret": '"your-signing-secret"',
    "slack_app_token": '"xapp-your-app-token"',
    "promptbase_api_url": '"https://api.prompt-base.com"',
    "mongodb_uri": '"mongodb://opsbot:PASSWORD@db.internal:27017/promptbase"',
    "opsbot_database_url": '"postgresql://opsbot:PASSWORD@db.internal:5432/opsbot"',
    "rollback_repo": '"/srv/prompt-base"',
    "self_heartbeat_url": '"https://hc-ping.com/your-check-id"',
    "opsbot_public_url": '"https://opsbot.example.com"',
    "digest_channel": '"#ops-digest"',
    "backup.offsite_dir": '"/mnt/offsite/opsbot"',
    "security.rate_limit_url": '"https://api.prompt-base.com/api/v1/auth/login"',
    "status_page.notice_webhook": '"https://hooks.example.com/prompt-base-notices"',
    "status_page.statuspage_api_key": '"your-statuspage-api-key"',
    "status_page.statuspage_page_id": '"your-page-id"',
    "oncall.announce_channel": '"#oncall"',
    "oncall.pagerduty_routing_key": '"your-32-character-routing-key"',
}

# A few words beside a setting where its name does not say enough.
NOTES: dict[str, str] = {
    "slack_bot_token": "a secret: keep it in opsbot.env",
    "slack_signing_secret": "a secret: keep it in opsbot.env",
    "slack_app_token": "a secret, for Socket Mode: keep it in opsbot.env",
    "mongodb_uri": "a secret: keep it in opsbot.env",
    "opsbot_database_url": "a secret; PostgreSQL instead of the SQLite file opsbot_db",
    "promptbase_api_url": "for /health, the monitor and the digests",
    "rollback_repo": "the git checkout whose v* tags are releases",
    "self_heartbeat_url": "pinged every minute while opsbot is healthy",
    "opsbot_public_url": "where people reach opsbot: the on-call calendar feeds' addresses",
    "reminders.working_days": "Monday is 0",
    "incidents.channel": "a channel per incident: always, P0-P1 (the two most severe) or never",
    "incidents.private_severities": "these get a private channel (Slack never makes it public)",
    "incidents.invite_groups": 'severity = ["S0123"]: user groups invited to its channel',
    "incidents.archive_after_hours": "after the resolution, once nobody has written for this long",
    "incidents.bookmarks": '"Title" = "https://…": bookmarked in every incident channel',
    "leader.lease_seconds": "several serve on PostgreSQL: a standby leads within 4/3 of it",
    "oncall.rotation": "member ids, in order; until `/oncall set`",
    "oncall.handover_weekday": "Monday is 0",
    "oncall.admins": "member ids who may change the rotation; empty: everyone",
    "oncall.escalation": "a member id, paged when the on-call person does not acknowledge",
    "oncall.infrastructure": "a member id",
    "oncall.security": "a member id",
    "oncall.usergroup": "a user group id (S...), kept to just the person on call",
    "oncall.pagerduty_routing_key": "a secret: page through PagerDuty too",
    "oncall.announce_days": "Monday is 0",
    "health.mounts": "disks to watch",
    "health.error_rate_is_fraction": "true if the API says 0.02 for 2 %",
    "backup.engine": '"auto", "builtin" or "mongodump"',
    "backup.restore_allowed": "member ids who may restore; empty: nobody",
    "backup.offsite_command": 'an argv list, e.g. ["rclone", "copy", "{path}", "offsite:pb"]',
    "rollback.allowed": "member ids who may roll back; empty: nobody",
    "rollback.current": '"head" (the tag HEAD is on) or "recorded" (the last /rollback mark)',
    "digest.daily_days": "Monday is 0",
    "digest.log_files": "backend logs whose lines start with an ISO timestamp",
    "digest.npm_dirs": "the backend and frontend checkouts",
    "security.npm_dirs": "empty: digest.npm_dirs",
    "security.rate_limit_hosts": "the burst is sent only to these hosts",
    "status_page.statuspage_api_key": "a secret: Atlassian Statuspage",
}

# Lists of tables whose items are written as commented blocks, each uncommented whole.
BLOCKS = {"rollback.steps", "status_page.components", "alerts.rules", "alerts.sources"}
# Lists of tables that are empty by default, shown by one example block.
EXAMPLE_BLOCKS: dict[str, list[str]] = {
    "alerts.sources": [
        'name = "prometheus"',
        'kind = "alertmanager"   # or "grafana", "events"',
        'secret = "a-long-random-string"',
    ],
    "heartbeats": [
        'name = "job:backup-nightly"   # opsbot\'s own job; or a name of yours with a secret',
        "interval_minutes = 1440",
        "grace_minutes = 60",
        'severity = "critical"',
        "#   (secret: for a heartbeat of yours, POSTed to /heartbeat/<name> with it)",
    ],
}
SECTIONS = (
    "incidents",
    "reminders",
    "oncall",
    "health",
    "thresholds",
    "backup",
    "rollback",
    "digest",
    "security",
    "status_page",
    "outbox",
    "pools",
    "leader",
    "alerts",
)


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def _toml(value: Any) -> str:
    """A setting's value as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, SecretStr):
        return json.dumps(value.get_secret_value())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _line(path: str, field: str, value: Any) -> str:
    """`# field = value`, commented, with a note; an example where nothing is set."""
    note = NOTES.get(path, "")
    if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
        shown = EXAMPLES[path]
        note = f"{note}; default: not set" if note else "default: not set"
    else:
        shown = _toml(value)
    return f"# {field} = {shown}" + (f"   # {note}" if note else "")


# What an item of a block list does when a field is not set.
UNSET_IN_BLOCK = {
    "status_page.components.check": "no health check: the page shows it as not monitored",
    "alerts.rules.channel": 'for action = "post", e.g. "#alerts"; not set: the digest channel',
}


def _block(header: str, item: BaseModel) -> list[str]:
    lines = [f"# [[{header}]]"]
    for field, value in item:
        if value is None:
            lines.append(f"#   ({field}: {UNSET_IN_BLOCK[f'{header}.{field}']})")
        else:
            lines.append(f"# {field} = {_toml(value)}")
    return lines


def config(incidents: str, digest: str | None) -> str:
    """opsbot.toml: the two channels set; every other setting of bot/config.py shown,
    commented out, at its default (the plan's value), or with an example where it has
    none. Each commented line, or each commented [[block]] as a whole, is valid TOML once
    uncommented."""
    defaults = Settings()
    lines = [
        "# opsbot configuration, made by `opsbot init`. The environment (opsbot.env) wins over",
        "# this file. Every setting is here, commented out at its default (the plan's values):",
        "# uncomment only what differs. A commented [[block]] is uncommented as a whole; a",
        "# block given replaces that whole default list (e.g. every rollback step).",
        "#",
        MEMBER_IDS,
        "",
        f"incidents_channel = {json.dumps(incidents)}",
        f"digest_channel = {json.dumps(digest)}"
        if digest
        else _line("digest_channel", "digest_channel", None).replace(
            "default: not set", "default: the incidents channel"
        ),
        _line("timezone", "timezone", defaults.timezone),
        _line("default_severity", "default_severity", defaults.default_severity),
        _line("self_heartbeat_url", "self_heartbeat_url", defaults.self_heartbeat_url),
        _line("opsbot_public_url", "opsbot_public_url", defaults.opsbot_public_url),
        "",
        "# Usually set in opsbot.env (OPSBOT_CONFIG, which names this file, only there):",
    ]
    for field in (
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_api_url",
        "opsbot_db",
        "opsbot_database_url",
        "port",
        "promptbase_api_url",
        "mongodb_uri",
        "backup_dir",
        "rollback_repo",
    ):
        lines.append(_line(field, field, getattr(defaults, field)))
    lines += ["", "# Severities: label, description and response target of each level."]
    for level, severity in defaults.severities.items():
        lines += ["", f"# [severities.{level}]"]
        lines += [f"# {field} = {_toml(value)}" for field, value in severity]
    for name in SECTIONS:
        section: BaseModel = type(getattr(defaults, name))()  # its defaults, not the env's
        lines += ["", f"[{name}]"]
        blocks: list[str] = []
        for field, value in section:
            path = f"{name}.{field}"
            if path in BLOCKS:
                blocks.append("")
                if value:
                    blocks.append(f"# The default {field} (given, these replace them all):")
                    for item in value:
                        blocks += _block(path, item)
                        blocks.append("")
                    blocks.pop()
                else:
                    blocks.append(f"# {field}: none by default; an example:")
                    blocks += [f"# [[{path}]]"] + [f"# {x}" for x in EXAMPLE_BLOCKS[path]]
                continue
            lines.append(_line(path, field, value))
        lines += blocks
    lines += ["", "# heartbeats: none by default; an example:", "# [[heartbeats]]"]
    lines += [x if x.startswith("#") else f"# {x}" for x in EXAMPLE_BLOCKS["heartbeats"]]
    return "\n".join(lines) + "\n"
