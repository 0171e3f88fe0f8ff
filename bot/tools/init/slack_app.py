"""The Slack app: its manifest, from one template, for a public URL or for Socket Mode; the
bot token's scopes; and the URL Slack posts to, from what a person types."""

# ruff: noqa: E501  (the manifest's lines are Slack's, as long as they are)
from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

EXAMPLE_URL = "https://opsbot.example.com/slack/events"
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
  shortcuts:
    - name: Declare incident
      type: message
      callback_id: incident.declare
      description: Declare an incident from this message
  slash_commands:
    - command: /incident
      url: {url}
      description: Open, acknowledge, update and resolve incidents
      usage_hint: "(a form) | open [P0-P3] <title> [--private] | ack | update | status | sev | lead | role | edit | action | actions | done | comms | public | public-title | notify | resolve | reopen | list | show | timeline | postmortem | stats | help"
      should_escape: true
    - command: /oncall
      url: {url}
      description: Who is on call, the rotation, overrides and swaps
      usage_hint: "[schedule [weeks] | set @a @b @c | override @user 2d | swap @user | calendar [new [team]] | contacts | help]"
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
      - files:read        # files.info: the post-mortem's link, bookmarked in an incident channel
      - usergroups:write  # usergroups.users.update: keep the on-call user group in step
      - channels:history  # conversations.history/replies: find a post made just before a crash
      - groups:history    # the same, when #incidents is a private channel
      - channels:read     # conversations.list: the id of a channel configured as #name
      - groups:read       # the same, for a private channel
      - users:read        # users.info: people's names in the post-mortem file
      - channels:manage   # conversations.create/invite/setTopic/archive: a channel per incident
      - groups:write      # the same, for a private incident channel
      - bookmarks:read    # bookmarks.list: an incident channel's links, each added once
      - bookmarks:write   # bookmarks.add: the card, status page and runbooks in the channel
      - pins:write        # pins.add: the working card pinned in an incident channel
      - usergroups:read   # usergroups.users.list: the groups invited to an incident channel
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


# Each scope the manifest asks for, and what it is for (its comment there): what stops
# working without it, as `opsbot doctor` says.
SCOPE_USES = dict(re.findall(r"^ {6}- ([a-z:._]+) +# (.+)$", MANIFEST, re.M))
SCOPES = tuple(SCOPE_USES)


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
