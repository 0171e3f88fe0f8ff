"""One `opsbot serve` owns a database: only it recovers what a crash cut short, and a
second one on the same file refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.store import Store
from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.conftest import Server
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until


def running_rollback(db: Path, channel: str = "", ts: str = "") -> int:
    store = Store(db)
    store.migrate()
    return store.rollbacks.add_rollback(
        {
            "tag": "v1.2.0",
            "requested_by": "U0ALICE01",
            "approvals": '["U0BOB0001"]',
            "status": "running",
            "created_at": datetime.now(UTC).isoformat(),
            "started_at": datetime.now(UTC).isoformat(),
            "steps": "[]",
            "channel": channel,
            "ts": ts,
        }
    )


def test_a_second_serve_on_the_same_database_refuses_to_start(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    first = Server(workspace, tmp_path / "opsbot.db", tmp_path / "first.log").start()
    try:
        second = Server(workspace, tmp_path / "opsbot.db", tmp_path / "second.log")
        try:
            second.start()
            raise AssertionError("a second serve started on the same database")
        except AssertionError as refused:
            assert "exited" in str(refused)
        assert second.proc is not None and second.proc.wait(10) == 2
        assert "one `opsbot serve` per database" in (tmp_path / "second.log").read_text()
        assert first.proc is not None and first.proc.poll() is None  # the first goes on
    finally:
        first.stop()


def test_opsbot_jobs_beside_a_running_rollback_leaves_it_alone(tmp_path: Path) -> None:
    """`opsbot jobs` (and run-job) never run crash recovery: a rollback in progress stays
    running, its lock held."""
    db = tmp_path / "opsbot.db"
    rollback = running_rollback(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "jobs"],
        env={**env, "OPSBOT_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert Store(db).rollbacks.rollback(rollback).status == "running"  # type: ignore[union-attr]


def test_a_rollback_cut_short_is_said_in_its_thread(tmp_path: Path) -> None:
    with LocalSlack() as slack:
        preview = slack.post("#incidents", "U0OPSBOT", "Rolling back to v1.2.0")
        rollback = running_rollback(tmp_path / "opsbot.db", preview.channel, preview.ts)
        stack = Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)))
        try:
            said = wait_until(lambda: [t for t in stack.thread() if "was cut short" in t])
            assert said[0].startswith(f":warning: R{rollback} to v1.2.0 was cut short")
            assert stack.deps.store.rollbacks.rollback(rollback).status == "interrupted"  # type: ignore[union-attr]
        finally:
            stack.stop()
