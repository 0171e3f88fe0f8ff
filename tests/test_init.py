"""`opsbot init`: manifests for both modes that Slack accepts and that match the code, a
config file that loads to the plan's defaults, and files never overwritten unasked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

import commands
from bot.config import Settings
from bot.tools import init
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


SETTING = re.compile(r"^# (\[\[?[\w.]+\]\]?|[A-Za-z_][\w-]* = )")


def units(text: str) -> list[tuple[int, int]]:
    """Each commented setting (a line) or commented [block] (its header and the settings
    under it) as a range of lines; prose comments are neither."""
    lines, found, index = text.splitlines(), [], 0
    while index < len(lines):
        if SETTING.match(lines[index]):
            end = index + 1
            if lines[index].startswith("# ["):
                while (
                    end < len(lines)
                    and lines[end].startswith("# ")
                    and not lines[end].startswith("# [")
                ):
                    end += 1
            found.append((index, end))
            index = end
        else:
            index += 1
    return found


def fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every setting of the config models, dotted (lists and dicts of models included)."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(prefix + name)
        for inner in typing.get_args(info.annotation) or (info.annotation,):
            for kind in typing.get_args(inner) or (inner,):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    names |= fields(kind, f"{prefix}{name}.")
    return names


def written(text: str) -> set[str]:
    """The dotted name of every setting the file shows, commented or not."""
    names, table = set(), ""
    for line in text.splitlines():
        header = re.match(r"^(?:# )?\[\[?([\w.]+)\]\]?", line)
        key = re.match(r"^(?:# )?([A-Za-z_][\w-]*) = ", line) or re.match(r"^#\s+\((\w+):", line)
        if header:
            table = re.sub(r"^severities\.\w+$", "severities", header.group(1))
            names.add(table)
        elif key:
            names.add(f"{table}.{key.group(1)}" if table else key.group(1))
    return names


def test_the_config_file_has_every_setting_each_valid_once_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every setting of bot/config.py is in opsbot.toml; each commented line, and each
    commented block as a whole, uncommented alone, parses and loads (a default line to the
    default), and the file says how to find a member id."""
    mine = {"incidents_channel", "digest_channel", "opsbot_config"}
    monkeypatch.delenv("OPSBOT_CONFIG", raising=False)
    defaults = Settings().model_dump(exclude=mine)
    text = init.config("#ops", None)
    assert "Copy member ID" in text
    assert fields(Settings) - {"opsbot_config"} <= written(text)
    lines = text.splitlines()
    path = tmp_path / "opsbot.toml"
    monkeypatch.setenv("OPSBOT_CONFIG", str(path))
    found = units(text)
    assert len(found) > 120
    for start, end in found:
        opened = [line[2:] for line in lines[start:end] if not line.startswith("#  ")]
        path.write_text("\n".join([*lines[:start], *opened, *lines[end:]]) + "\n")
        tomllib.loads(path.read_text())
        loaded = Settings().model_dump(exclude=mine)
        if end - start == 1 and "default: " not in lines[start]:
            assert loaded == defaults, lines[start]
        if lines[start].startswith("# [severities."):
            assert loaded == defaults, lines[start]


def test_the_config_file_loads_to_the_plans_defaults(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The channels given, everything else the plan's."""
    mine = {"incidents_channel", "digest_channel", "opsbot_config"}
    monkeypatch.delenv("OPSBOT_CONFIG", raising=False)
    defaults = Settings().model_dump(exclude=mine)
    path = tmp_path / "opsbot.toml"
    path.write_text(init.config("#ops", "#ops-digest"))
    monkeypatch.setenv("OPSBOT_CONFIG", str(path))
    loaded = Settings()
    assert (loaded.incidents_channel, loaded.digest_channel) == ("#ops", "#ops-digest")
    assert loaded.model_dump(exclude=mine) == defaults


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
        (("--url", "ops example"), "not a host name"),
        ((), "say where Slack reaches the bot: --url ops.example.com"),
    ],
)
def test_init_refuses_what_slack_could_not_use(tmp_path: Path, args: tuple, said: str) -> None:  # type: ignore[type-arg]
    refused = run(*args, cwd=tmp_path)
    assert refused.returncode == 2 and said in refused.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bare_host_is_taken_as_https(tmp_path: Path) -> None:
    """`--url ops.example.com` is https://ops.example.com/slack/events."""
    done = run("--url", "ops.example.com", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load((tmp_path / "opsbot-manifest.yml").read_text())
    assert manifest["settings"]["interactivity"]["request_url"] == (
        "https://ops.example.com/slack/events"
    )


def test_asked_for_a_url_a_bad_answer_is_asked_again() -> None:
    """Asked (no --url), a wrong answer is explained and asked again, naming no flag."""
    answers, said = iter(["http://ops.example.com", "ops example", "ops.example.com"]), []
    url = init.ask_url(lambda question: next(answers), said.append)
    assert url == "https://ops.example.com/slack/events"
    assert len(said) == 2 and "https://" in said[0] and "not a host name" in said[1]
    assert not any("--url" in line for line in said)
    assert init.ask_url(lambda question: "", said.append) is None  # blank: Socket Mode


def test_init_for_docker_leaves_the_data_paths_to_the_image(tmp_path: Path) -> None:
    """`opsbot init --docker` writes no OPSBOT_DB or BACKUP_DIR, the config path compose
    mounts, and docker compose steps."""
    done = run("--docker", "--url", "ops.example.com", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    env = (tmp_path / "opsbot.env").read_text()
    assert "\nOPSBOT_CONFIG=/config/opsbot.toml\n" in env
    assert "\nOPSBOT_DB=" not in env and "\nBACKUP_DIR=" not in env
    assert "docker compose up -d --build" in done.stdout
    plain = run("--url", "ops.example.com", "--force", cwd=tmp_path)
    assert plain.returncode == 0
    assert (
        f"\nOPSBOT_DB={tmp_path.resolve() / 'opsbot.db'}\n" in (tmp_path / "opsbot.env").read_text()
    )
