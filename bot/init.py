"""`opsbot init`: the Slack app manifest, a commented opsbot.toml and an env file, written
for one setup (a public URL or Socket Mode), then the steps left to do in Slack.

The manifest is made from one template (MANIFEST below); the repository's manifest.yml is
this template for https://opsbot.example.com (tests/test_init.py keeps the two equal).
"""

# ruff: noqa: E501  (the manifest's lines are Slack's, as long as they are)
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
      usage_hint: "open [P0-P3] <title> | ack | update | status | sev | lead | role | edit | action | actions | done | comms | resolve | list | show | timeline | postmortem | help"
      should_escape: true
    - command: /oncall
      url: {url}
      description: Who is on call, the rotation, overrides and swaps
      usage_hint: "[schedule [weeks] | set @a @b @c | override @user 2d | swap @user | contacts | help]"
      should_escape: true
    - command: /health
      url: {url}
      description: Is Prompt-Base OK right now? API, MongoDB, CPU, memory, disk, traffic
      usage_hint: "[api | mongodb | cpu | memory | disk | traffic | history | help]"
      should_escape: false
    - command: /backup
      url: {url}
      description: Back up Prompt-Base's MongoDB, list, verify and restore backups
      usage_hint: "[run | list | verify [B<n>] [--restore] | restore B<n> | help]"
      should_escape: false
    - command: /rollback
      url: {url}
      description: Roll Prompt-Base back to a release, previewed and confirmed
      usage_hint: "[list | <tag> [INC-n] [--dry-run] | mark <tag> | help]"
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
    """https://host[/path] -> the URL Slack posts to: .../slack/events."""
    public = public.strip().rstrip("/")
    if not public.startswith("https://") or len(public) <= len("https://"):
        raise ValueError("Slack only sends requests to an https:// URL")
    return public if public.endswith("/slack/events") else public + "/slack/events"


def _toml(value: Any) -> str | None:
    """A setting's default as TOML; None for what a one-line comment cannot show."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        items = [_toml(v) for v in value]
        return None if None in items else "[" + ", ".join(str(i) for i in items) + "]"
    return None


def config(incidents: str, digest: str | None) -> str:
    """opsbot.toml: the two channels set; every other setting shown, commented out, with
    the plan's value (uncomment only what differs)."""
    defaults = Settings()
    lines = [
        "# opsbot configuration, made by `opsbot init`. Environment variables win over this",
        "# file. The plan's values are the defaults: uncomment only what differs.",
        "",
        f"incidents_channel = {json.dumps(incidents)}",
        f"digest_channel = {json.dumps(digest)}"
        if digest
        else "# digest_channel: the incidents channel unless set",
        f"# timezone = {json.dumps(defaults.timezone)}",
        f"# default_severity = {json.dumps(defaults.default_severity)}",
    ]
    for name in (
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
    ):
        section: BaseModel = getattr(defaults, name)
        lines += ["", f"[{name}]"]
        for field, value in section:
            if isinstance(value, SecretStr) or value is None:
                lines.append(f"# {field} = ...")
                continue
            shown = _toml(value)
            if shown is not None:
                lines.append(f"# {field} = {shown}")
    return "\n".join(lines) + "\n"


def env_file(socket: bool, config_path: Path) -> str:
    second = (
        "# xapp-…: Basic Information → App-Level Tokens (scope connections:write)\nSLACK_APP_TOKEN="
        if socket
        else "# Basic Information → App Credentials → Signing Secret\nSLACK_SIGNING_SECRET="
    )
    # Comments on lines of their own: `docker run --env-file` reads a value to the line's end.
    return f"""\
# opsbot's secrets and places, made by `opsbot init`. Fill in, keep out of version control,
# and load it before starting opsbot (`set -a; . ./opsbot.env; set +a`, or --env-file).
# xoxb-…: OAuth & Permissions → Bot User OAuth Token
SLACK_BOT_TOKEN=
{second}
OPSBOT_CONFIG={config_path}
OPSBOT_DB=./opsbot.db
BACKUP_DIR=./backups
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

    def files(self) -> dict[Path, str]:
        toml = self.folder / "opsbot.toml"
        return {
            self.folder / "opsbot-manifest.yml": manifest(self.url),
            toml: config(self.incidents, self.digest),
            self.folder / "opsbot.env": env_file(self.url is None, toml.resolve()),
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
        return [
            "At https://api.slack.com/apps press Create New App → From an app manifest, pick "
            f"your workspace and paste {self.folder / 'opsbot-manifest.yml'}.",
            "Install the app to the workspace (Install App).",
            f"Copy {tokens} into {self.folder / 'opsbot.env'}.",
            f"Invite the bot to {channels} (`/invite @opsbot`): Slack sends reaction events "
            "only from channels the bot is in.",
            "Load the env file and check the setup: `set -a; . ./opsbot.env; set +a; "
            "opsbot doctor`.",
            f"Start it: `{serve}`"
            + ("" if self.url is None else f" (Slack will post to {self.url})")
            + ".",
        ]
