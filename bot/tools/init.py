"""`opsbot init`: the Slack app manifest, a commented opsbot.toml and an env file, written
for one setup (a public URL or Socket Mode), then the steps left to do in Slack.

The manifest is made from one template (MANIFEST below); the repository's manifest.yml is
this template for https://opsbot.example.com (tests/test_init.py keeps the two equal).
"""

# ruff: noqa: E501  (the manifest's lines are Slack's, as long as they are)
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from bot.config import Settings

EXAMPLE_URL = "https://opsbot.example.com/slack/events"
# The bot token's scopes: the manifest's list (tests/test_init.py keeps the two equal).
SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "reactions:read",
    "reactions:write",
    "files:write",
    "usergroups:write",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "users:read",
)

MANIFEST = """\
# Slack app manifest for opsbot ({mode}).
{advice}
_metadata:
  major_version: 1
  minor_version: 1
display_information:
  name: opsbot
  description: Incidents, on-call, escalation, health checks and post-mortems for Prompt-Base, run from #incidents.
  background_color: "#2c2d30"
features:
  app_home:
    home_tab_enabled: true
    messages_tab_enabled: true
    messages_tab_read_only_enabled: true
  bot_user:
    display_name: opsbot
    always_online: true
  slash_commands:
    - command: /incident
      url: {url}
      description: Open, acknowledge, update and resolve incidents
      usage_hint: "open [P0-P3] <title> | ack | update | status | sev | lead | role | edit | action | actions | done | comms | public | public-title | notify | resolve | list | show | timeline | postmortem | help"
      should_escape: true
    - command: /oncall
      url: {url}
      description: Who is on call, the rotation, overrides and swaps
      usage_hint: "[schedule [weeks] | set @a @b @c | override @user 2d | swap @user | contacts | help]"
      should_escape: true
    - command: /health
      url: {url}
      description: Is Prompt-Base OK right now? API, MongoDB, CPU, memory, disk, traffic
      usage_hint: "[api | mongodb | cpu | memory | disk | traffic | history | log [YYYY-MM] | security | help]"
      should_escape: false
    - command: /backup
      url: {url}
      description: Back up Prompt-Base's MongoDB, list, verify and restore backups
      usage_hint: "[run | list | verify [B<n>] [--restore] | restore B<n> | indexes | slow | cleanup | archive <year> | help]"
      should_escape: false
    - command: /rollback
      url: {url}
      description: Roll Prompt-Base back to a release, previewed and confirmed
      usage_hint: "[list | <tag> [INC-n] [--dry-run] [--forward] | mark <tag> | help]"
      should_escape: false
    - command: /alerts
      url: {url}
      description: What is firing; silence alerts, plan maintenance windows
      usage_hint: "[silence key=value… 2h <reason> | silences | unsilence S3 | maintenance <component> 2h <text> | help]"
      should_escape: true
oauth_config:
  scopes:
    bot:
      - commands          # slash commands
      - chat:write        # chat.postMessage, chat.update: the incident card and its thread
      - chat:write.public # post in #incidents without being invited first
      - reactions:read    # reaction_added/removed events, reactions.get for pinned messages
      - reactions:write   # reactions.add/remove: confirm a pinned timeline entry
      - files:write       # files.getUploadURLExternal/completeUploadExternal: post-mortem .md
      - usergroups:write  # usergroups.users.update: keep the on-call user group in step
      - channels:history  # conversations.history/replies: find a post made just before a crash
      - groups:history    # the same, when #incidents is a private channel
      - channels:read     # conversations.list: the id of a channel configured as #name
      - groups:read       # the same, for a private channel
      - users:read        # users.info: people's names in the post-mortem file
settings:
  event_subscriptions:
    request_url: {url}
    bot_events:
      - app_home_opened
      - reaction_added
      - reaction_removed
  interactivity:
    is_enabled: true
    request_url: {url}
  org_deploy_enabled: false
  socket_mode_enabled: {socket}
  token_rotation_enabled: false
"""


def manifest(url: str | None) -> str:
    """For a public URL (Slack posts to it), or Socket Mode (url None: no URLs at all)."""
    if url is not None:
        return MANIFEST.format(
            mode="HTTP mode",
            advice="# Made by `opsbot init --url https://your.host` (`--socket` for Socket Mode).",
            url=url,
            socket="false",
        )
    text = MANIFEST.format(
        mode="Socket Mode",
        advice="# Made by `opsbot init --socket`: Slack reaches the bot over its own connection.",
        url="-",
        socket="true",
    )
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if line.strip() not in ("url: -", "request_url: -")
    )


def request_url(public: str) -> str:
    """https://host[/path], or a bare host (https:// assumed) -> the URL Slack posts to:
    .../slack/events."""
    public = public.strip().rstrip("/")
    if "://" not in public:
        public = "https://" + public
    if not public.startswith("https://"):
        raise ValueError("Slack only sends requests to an https:// URL")
    host = urlsplit(public).hostname or ""
    if not host or any(c.isspace() for c in public) or "." not in host and host != "localhost":
        raise ValueError("that is not a host name (e.g. ops.example.com)")
    return public if public.endswith("/slack/events") else public + "/slack/events"


def ask_url(ask: Callable[[str], str], say: Callable[[str], None]) -> str | None:
    """Asks until the answer is a URL Slack can post to (None: blank, Socket Mode)."""
    while True:
        answer = ask("The bot's public https URL or host (blank for Socket Mode, no URL needed)")
        if not answer.strip():
            return None
        try:
            return request_url(answer)
        except ValueError as exc:
            say(f"{answer.strip()}: {exc}. Try again, or leave it blank for Socket Mode.")


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
    "rollback_repo": '"/srv/prompt-base"',
    "self_heartbeat_url": '"https://hc-ping.com/your-check-id"',
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
    "promptbase_api_url": "for /health, the monitor and the digests",
    "rollback_repo": "the git checkout whose v* tags are releases",
    "self_heartbeat_url": "pinged every minute while opsbot is healthy",
    "reminders.working_days": "Monday is 0",
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
        "",
        "# Usually set in opsbot.env (OPSBOT_CONFIG, which names this file, only there):",
    ]
    for field in (
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_api_url",
        "opsbot_db",
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
        section: BaseModel = getattr(defaults, name)
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


DOCKER_CONFIG = Path("/config/opsbot.toml")  # where docker-compose.yml mounts opsbot.toml


def env_file(socket: bool, config_path: Path, docker: bool = False) -> str:
    second = (
        "# xapp-…: Basic Information → App-Level Tokens (scope connections:write)\nSLACK_APP_TOKEN="
        if socket
        else "# Basic Information → App Credentials → Signing Secret\nSLACK_SIGNING_SECRET="
    )
    folder = config_path.parent
    places = (
        "# OPSBOT_DB and BACKUP_DIR are left to the image: /data/opsbot.db and /data/backups,\n"
        "# on the /data volume (set here, they would win and point outside it).\n"
        f"OPSBOT_CONFIG={DOCKER_CONFIG}"
        if docker
        else f"OPSBOT_CONFIG={config_path}\nOPSBOT_DB={folder / 'opsbot.db'}\n"
        f"BACKUP_DIR={folder / 'backups'}"
    )
    # Comments on lines of their own: `docker run --env-file` reads a value to the line's end.
    return f"""\
# opsbot's secrets and places, made by `opsbot init`. Fill in, keep out of version control,
# and load it before starting opsbot (`set -a; . ./opsbot.env; set +a`, or --env-file).
# xoxb-…: OAuth & Permissions → Bot User OAuth Token
SLACK_BOT_TOKEN=
{second}
{places}
# Prompt-Base's MongoDB, for /health and /backup (never shown):
# MONGODB_URI=
# Prompt-Base's API, for /health and the monitor:
# PROMPTBASE_API_URL=
# The Prompt-Base git checkout whose v* tags are releases:
# ROLLBACK_REPO=
"""


@dataclass(frozen=True)
class Plan:
    url: str | None  # None: Socket Mode
    incidents: str
    digest: str | None
    folder: Path
    docker: bool = False  # paths left to the image; the config where compose mounts it

    def files(self) -> dict[Path, str]:
        toml = self.folder / "opsbot.toml"
        return {
            self.folder / "opsbot-manifest.yml": manifest(self.url),
            toml: config(self.incidents, self.digest),
            self.folder / "opsbot.env": env_file(self.url is None, toml.resolve(), self.docker),
        }

    def steps(self) -> list[str]:
        channels = " and ".join(dict.fromkeys(c for c in (self.incidents, self.digest) if c))
        tokens = (
            "the Bot User OAuth Token (xoxb-…) and an App-Level Token with connections:write "
            "(xapp-…)"
            if self.url is None
            else "the Bot User OAuth Token (xoxb-…) and the Signing Secret"
        )
        serve = "opsbot serve --socket" if self.url is None else "opsbot serve"
        posts = "" if self.url is None else f" (Slack will post to {self.url})"
        common = [
            "At https://api.slack.com/apps press Create New App → From an app manifest, pick "
            f"your workspace and paste {self.folder / 'opsbot-manifest.yml'}.",
            "Install the app to the workspace (Install App).",
            f"Copy {tokens} into {self.folder / 'opsbot.env'}.",
            f"Invite the bot to {channels} (`/invite @opsbot`): Slack sends reaction events "
            "only from channels the bot is in.",
        ]
        if self.docker:
            return [
                *common,
                "Put opsbot.env and opsbot.toml beside opsbot's docker-compose.yml (it reads "
                "them from there; data stays on the opsbot-data volume at /data).",
                "Check the setup: `docker compose run --rm opsbot opsbot doctor"
                + (" --socket`." if self.url is None else "`."),
                "Start it: `docker compose up -d --build`"
                + (
                    " after setting `command: [opsbot, serve, --socket]` in docker-compose.yml"
                    if self.url is None
                    else posts
                )
                + ".",
            ]
        return [
            *common,
            "Load the env file and check the setup: `set -a; . ./opsbot.env; set +a; "
            "opsbot doctor`.",
            f"Start it: `{serve}`{posts}.",
        ]
