"""A Slack workspace on loopback: the Web API methods opsbot calls, plus response_url sinks.

`opsbot shell` points the bot's WebClient here and renders what arrives; the tests do the same
and assert on it. It is a real HTTP server, so the bot's code path is the one it takes against
slack.com: the same client, retries, JSON and form encodings. requests.py builds requests
exactly as Slack sends them to /slack/events (form or JSON body, v0 signature).

Split by what each part stands in for:

- workspace.py: the workspace's state (channels, messages, people, reactions), kept between
  runs of the shell;
- server.py: the HTTP server, the faults Slack can show and its pace, the calls it received;
- messages.py: chat.postMessage, chat.update, chat.postEphemeral and reactions.*;
- conversations.py: conversations.history, .replies, .list and .join;
- channels.py: the channels an incident bot makes and keeps (create, invite, topic,
  archive, bookmarks, pins, permalinks, user groups);
- files.py: files.getUploadURLExternal, the upload itself, files.completeUploadExternal;
- users.py: auth.test, users.info, usergroups.users.update and apps.connections.open;
- views.py: views.open (a trigger_id works once, within 3 s) and the modals open now;
- requests.py: slash commands, block actions and events, signed, as Slack sends them.
"""

from __future__ import annotations

from bot.tools.localslack.channels import Channels
from bot.tools.localslack.conversations import Conversations
from bot.tools.localslack.files import Files
from bot.tools.localslack.messages import Messages
from bot.tools.localslack.requests import (
    block_action,
    home_action,
    message_shortcut,
    reaction_event,
    signed_headers,
    slash_command,
    view_submission,
)
from bot.tools.localslack.server import Call, Fault
from bot.tools.localslack.users import Users
from bot.tools.localslack.views import View, Views
from bot.tools.localslack.workspace import (
    BOT_USER,
    SCOPES,
    TEAM,
    Listener,
    Message,
    escape,
)

__all__ = [
    "BOT_USER",
    "SCOPES",
    "TEAM",
    "Call",
    "Fault",
    "Listener",
    "LocalSlack",
    "Message",
    "View",
    "block_action",
    "home_action",
    "message_shortcut",
    "escape",
    "reaction_event",
    "signed_headers",
    "slash_command",
    "view_submission",
]


class LocalSlack(Messages, Conversations, Channels, Views, Files, Users):
    """The whole workspace: its state, served over HTTP, answering each Web API method opsbot
    calls (an unknown one answers `unknown_method`)."""
