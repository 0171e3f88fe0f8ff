"""The commands in code, in manifest.yml and in docs/commands.md agree; the manifest is valid."""

import ast
import json
import re
from pathlib import Path

import jsonschema
import yaml

import commands

ROOT = Path(__file__).resolve().parent.parent
# Slack's own manifest schema (slackapi/manifest-schema, 1.0.0).
SCHEMA = ROOT / "tests" / "data" / "slack-manifest.schema.json"

# The bot scope each Web API method the code calls needs (Slack's scope reference).
SCOPE_OF_METHOD = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "reactions_get": "reactions:read",
    "reactions_add": "reactions:write",
    "reactions_remove": "reactions:write",
    "users_info": "users:read",
    "files_upload_v2": "files:write",
    "usergroups_users_update": "usergroups:write",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "conversations_list": "channels:read",
}
SCOPE_OF_EVENT = {
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "app_home_opened": None,  # needs no scope
}


def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def source_files() -> list[Path]:
    return [
        p
        for d in ("bot", "commands", "jobs")
        for p in (ROOT / d).rglob("*.py")
        if "localslack" not in p.parts  # the stand-in answers methods; it calls none
    ]


def test_commands_agree_everywhere() -> None:
    """COMMANDS, the manifest's slash commands and the docs' table list the same commands."""
    in_manifest = {c["command"] for c in manifest()["features"]["slash_commands"]}
    page = (ROOT / "docs" / "commands.md").read_text()
    table = page.split("\n## Slash commands", 1)[1].split("\n## ", 1)[0]
    in_docs = set(re.findall(r"^\| `(/\w+)`", table, re.MULTILINE))
    assert set(commands.COMMANDS) == in_manifest == in_docs


def test_manifest_is_a_valid_slack_manifest() -> None:
    """manifest.yml validates against Slack's manifest JSON schema."""
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(manifest())


def test_manifest_serves_everything_on_one_endpoint() -> None:
    """Commands, events and interactivity all go to /slack/events; HTTP mode by default."""
    m = manifest()
    urls = [c["url"] for c in m["features"]["slash_commands"]]
    urls += [
        m["settings"]["event_subscriptions"]["request_url"],
        m["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is False


def web_api_calls() -> set[str]:
    calls = set()
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in SCOPE_OF_METHOD:
                calls.add(node.attr)
    return calls


def subscribed_events() -> set[str]:
    events = set()
    for path in source_files():
        events |= set(re.findall(r'app\.event\("(\w+)"\)', path.read_text()))
    return events


def test_scopes_cover_what_the_code_calls() -> None:
    """Every Web API method called and event listened to has its scope in the manifest."""
    m = manifest()
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    calls, events = web_api_calls(), subscribed_events()
    assert calls, "found no Web API calls: the scan is broken"
    assert {SCOPE_OF_METHOD[c] for c in calls} <= scopes
    assert {SCOPE_OF_EVENT[e] for e in events} - {None} <= scopes
    assert events == set(m["settings"]["event_subscriptions"]["bot_events"])
    assert "commands" in scopes


def test_the_local_slack_grants_the_scopes_the_manifest_asks_for() -> None:
    from bot.tools.localslack import SCOPES

    assert set(SCOPES) == set(manifest()["oauth_config"]["scopes"]["bot"])


def test_every_job_is_in_the_jobs_table() -> None:
    from jobs import JOBS

    page = (ROOT / "docs" / "jobs.md").read_text()
    in_table = set(re.findall(r"^\| `([a-z-]+)` \| ", page, re.MULTILINE))
    assert set(JOBS) <= in_table, set(JOBS) - in_table
