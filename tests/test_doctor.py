"""`opsbot doctor` against the local Slack: each check turns red for its own reason, with a
fix, and everything is green on a good setup. Run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.store import Store
from bot.tools.localslack import SCOPES, LocalSlack
from bot.wiring import own_database

ROOT = Path(__file__).resolve().parent.parent


def doctor(
    slack: LocalSlack, tmp_path: Path, *extra: str, **env: str
) -> tuple[int, dict[str, dict[str, Any]], str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    settings = {
        "SLACK_BOT_TOKEN": "xoxb-good",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": slack.api_base,
        "OPSBOT_DB": str(tmp_path / "opsbot.db"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "doctor", "--json", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**base, "PYTHONPATH": str(ROOT), **settings},
    )
    assert "Traceback" not in done.stderr, done.stderr
    results = {r["check"]: r for r in json.loads(done.stdout)}
    return done.returncode, results, done.stdout


@pytest.fixture
def slack() -> Any:
    with LocalSlack(token_prefix="xoxb-good") as workspace:
        workspace.channel_id("#incidents")  # the channel exists in the workspace
        yield workspace


def failed(results: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, r in results.items() if r["state"] == "fail"}


def test_a_good_setup_is_all_green(slack: LocalSlack, tmp_path: Path) -> None:
    Store(tmp_path / "opsbot.db").migrate()
    code, results, _ = doctor(slack, tmp_path)
    assert code == 0 and failed(results) == set()
    assert results["scopes"]["detail"].startswith(f"all {len(SCOPES)}")
    assert results["channel #incidents"]["state"] == "ok"
    assert "wal mode, migrated" in results["database"]["detail"]
    assert results["backups"]["state"] == "off"  # no MONGODB_URI: said, not failed


def test_a_token_slack_rejects(slack: LocalSlack, tmp_path: Path) -> None:
    code, results, _ = doctor(slack, tmp_path, SLACK_BOT_TOKEN="xoxb-revoked")
    assert code == 1 and failed(results) == {"bot token"}
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in results["bot token"]["detail"]
    assert "xoxb-revoked" not in json.dumps(results)


def test_a_missing_scope_is_named(tmp_path: Path) -> None:
    granted = tuple(s for s in SCOPES if s != "reactions:read") + ("users:read.email",)
    with LocalSlack(token_prefix="xoxb-good", scopes=granted) as slack:
        slack.channel_id("#incidents")
        code, results, _ = doctor(slack, tmp_path)
    assert code == 1 and failed(results) == {"scopes"}
    assert results["scopes"]["detail"] == (  # and what stops working without it
        "missing reactions:read (reaction_added/removed events, reactions.get for pinned "
        "messages); extra users:read.email"
    )
    assert "reinstall" in results["scopes"]["fix"]


def test_the_bot_not_in_its_channels(slack: LocalSlack, tmp_path: Path) -> None:
    slack.leave("#incidents")
    slack.channel_id("#digest")
    code, results, text = doctor(slack, tmp_path, OPSBOT_CONFIG=str(_toml(tmp_path)))
    assert code == 1 and failed(results) == {"channel #incidents"}
    assert "/invite @opsbot in #incidents" in results["channel #incidents"]["fix"]
    assert results["channel #digest"]["state"] == "ok"


def _toml(tmp_path: Path) -> Path:
    path = tmp_path / "opsbot.toml"
    path.write_text('digest_channel = "#digest"\n')
    return path


def test_a_skewed_clock(slack: LocalSlack, tmp_path: Path) -> None:
    slack.clock_offset = -300  # Slack's Date says five minutes earlier: ours is ahead
    code, results, _ = doctor(slack, tmp_path)
    assert code == 1 and failed(results) == {"clock"}
    assert results["clock"]["detail"].endswith("s ahead of Slack's")


def test_mongodb_down_and_no_git(slack: LocalSlack, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    empty = tmp_path / "bin"
    empty.mkdir()
    quick = tmp_path / "opsbot.toml"
    quick.write_text("[health]\ntimeout_seconds = 0.5\n")  # as long as /health waits
    code, results, _ = doctor(
        slack,
        tmp_path,
        MONGODB_URI="mongodb://admin:hunter2@127.0.0.1:9/promptbase",
        ROLLBACK_REPO=str(repo),
        PATH=str(empty),
        OPSBOT_CONFIG=str(quick),
    )
    assert code == 1 and {"MongoDB", "git"} <= failed(results)
    assert "hunter2" not in json.dumps(results)
    assert "not on PATH" in results["git"]["detail"]


def test_a_database_held_by_a_running_serve(slack: LocalSlack, tmp_path: Path) -> None:
    Store(tmp_path / "opsbot.db").migrate()
    held = own_database(Settings(opsbot_db=tmp_path / "opsbot.db"))
    assert held is not None
    try:
        code, results, _ = doctor(slack, tmp_path)
    finally:
        held.close()
    assert code == 1 and failed(results) == {"database"}
    assert "held by a running opsbot serve (pid" in results["database"]["detail"]


def test_socket_mode_needs_an_app_token_slack_accepts(slack: LocalSlack, tmp_path: Path) -> None:
    code, results, _ = doctor(slack, tmp_path, "--socket")
    assert code == 1 and results["socket mode"]["detail"] == "SLACK_APP_TOKEN is not set"
    slack.socket_url = "ws://127.0.0.1:9/"
    code, results, _ = doctor(slack, tmp_path, "--socket", SLACK_APP_TOKEN="xapp-1")
    assert code == 0 and results["socket mode"]["state"] == "ok"


def test_a_bad_config_file_is_a_failed_check_not_a_crash(slack: LocalSlack, tmp_path: Path) -> None:
    bad = tmp_path / "opsbot.toml"
    bad.write_text('timezone = "Mars/Olympus"\n')
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**base, "PYTHONPATH": str(ROOT), "OPSBOT_CONFIG": str(bad)},
    )
    assert done.returncode == 1 and done.stdout.startswith("✗ config:")
    assert "Mars/Olympus" in done.stdout and "Traceback" not in done.stderr
