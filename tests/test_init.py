"""`opsbot init`: manifests for both modes that Slack accepts and that match the code, a
config file that loads to the plan's defaults, and files never overwritten unasked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

import commands
from bot import init
from bot.config import Settings
from tests.test_wiring import (
    ROOT,
    SCHEMA,
    SCOPE_OF_EVENT,
    SCOPE_OF_METHOD,
    subscribed_events,
    web_api_calls,
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "init", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
    )


def test_the_repositorys_manifest_is_inits_for_the_example_host() -> None:
    assert (ROOT / "manifest.yml").read_text() == init.manifest(init.EXAMPLE_URL)


@pytest.mark.parametrize("url", ["https://ops.example.org/slack/events", None])
def test_both_manifests_are_valid_and_match_the_code(url: str | None) -> None:
    made = yaml.safe_load(init.manifest(url))
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(made)
    scopes = set(made["oauth_config"]["scopes"]["bot"])
    assert {SCOPE_OF_METHOD[c] for c in web_api_calls()} <= scopes
    assert {SCOPE_OF_EVENT[e] for e in subscribed_events()} - {None} <= scopes
    assert set(made["settings"]["event_subscriptions"]["bot_events"]) == subscribed_events()
    assert {c["command"] for c in made["features"]["slash_commands"]} == set(commands.COMMANDS)
    settings = made["settings"]
    if url is None:
        assert settings["socket_mode_enabled"] is True
        assert "url:" not in init.manifest(url) and "request_url" not in init.manifest(url)
    else:
        assert settings["socket_mode_enabled"] is False
        assert settings["event_subscriptions"]["request_url"] == url
        assert settings["interactivity"]["request_url"] == url
        assert all(c["url"] == url for c in made["features"]["slash_commands"])


def test_the_config_file_loads_to_the_plans_defaults(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The channels given, everything else the plan's; every commented default, uncommented,
    is accepted and still the default."""
    mine = {"incidents_channel", "digest_channel", "opsbot_config"}
    monkeypatch.delenv("OPSBOT_CONFIG", raising=False)
    defaults = Settings().model_dump(exclude=mine)
    path = tmp_path / "opsbot.toml"
    path.write_text(init.config("#ops", "#ops-digest"))
    monkeypatch.setenv("OPSBOT_CONFIG", str(path))
    loaded = Settings()
    assert (loaded.incidents_channel, loaded.digest_channel) == ("#ops", "#ops-digest")
    assert loaded.model_dump(exclude=mine) == defaults
    shown = "\n".join(
        line[2:] if line.startswith("# ") and " = " in line and "..." not in line else line
        for line in path.read_text().splitlines()
    )
    assert shown.count("\n") > 60 and "\nkeep_daily = 7" in shown
    path.write_text(shown)
    assert Settings().model_dump(exclude=mine) == defaults


def test_init_writes_three_files_and_the_steps_left(tmp_path: Path) -> None:
    done = run("--url", "https://ops.example.org", "--incidents-channel", "#ops", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("opsbot-manifest.yml", "opsbot.toml", "opsbot.env"):
        assert f"wrote {name}" in done.stdout
    steps = done.stdout.split("Left to do:")[1]
    assert "1. At https://api.slack.com/apps" in steps and "Invite the bot to #ops" in steps
    assert "opsbot doctor" in steps and "https://ops.example.org/slack/events" in steps
    env = (tmp_path / "opsbot.env").read_text()
    assert (tmp_path / "opsbot.env").stat().st_mode & 0o777 == 0o600
    assert "SLACK_SIGNING_SECRET=\n" in env and "SLACK_APP_TOKEN" not in env
    before = (tmp_path / "opsbot.toml").read_text()
    again = run("--socket", cwd=tmp_path)
    assert again.returncode == 2 and "already exist; nothing was written" in again.stderr
    assert (tmp_path / "opsbot.toml").read_text() == before
    forced = run("--socket", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "opsbot serve --socket" in forced.stdout
    assert "SLACK_APP_TOKEN=\n" in (tmp_path / "opsbot.env").read_text()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--url", "http://ops.example.org"), "Slack only sends requests to an https:// URL"),
        ((), "say where Slack reaches the bot"),
    ],
)
def test_init_refuses_what_slack_could_not_use(tmp_path: Path, args: tuple, said: str) -> None:  # type: ignore[type-arg]
    refused = run(*args, cwd=tmp_path)
    assert refused.returncode == 2 and said in refused.stderr
    assert list(tmp_path.iterdir()) == []
