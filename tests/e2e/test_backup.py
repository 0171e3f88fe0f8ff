"""/backup through the serve stack, MongoDB played by mongomock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mongomock
import pymongo
import pytest

from bot.tools.localslack import LocalSlack, Message
from tests.conftest import Clock
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until
from tests.test_backup import seed

ALICE, BOB = "U0ALICE01", "U0BOB0001"


@pytest.fixture
def mongo() -> Any:
    client = mongomock.MongoClient()
    seed(client)
    return client


@pytest.fixture
def stack(tmp_path: Path, mongo: Any) -> Iterator[Stack]:
    with LocalSlack() as slack:
        running = Stack(
            slack,
            tmp_path / "opsbot.db",
            Clock(datetime.now(UTC)),
            mongo=lambda: mongo,
            backup_dir=tmp_path / "backups",
            backup={"restore_allowed": [ALICE]},
        )
        yield running
        running.stop()


def backup(stack: Stack, text: str, user: str = ALICE) -> dict[str, Any]:
    answer = stack.command(text, user=user, name="/backup")
    assert answer.status_code == 200
    return dict(answer.json())


def final(stack: Stack, marker: str) -> dict[str, Any]:
    return wait_until(
        lambda: next(
            (r for r in reversed(stack.slack.responses) if marker in r.get("text", "")), None
        ),
        timeout=15,
    )


def test_run_list_verify_restore(stack: Stack, mongo: Any) -> None:
    """Run (fast ack, progress, result), list with trend, verify --restore, guarded restore."""
    began = time.monotonic()
    assert "Backup started" in backup(stack, "run")["text"]
    assert time.monotonic() - began < 3
    done = final(stack, "Backup B1 done")
    assert "5 collections, 479 documents" in done["text"]
    progress = [r["text"] for r in stack.slack.responses if r["text"].startswith(":hourglass:")]
    assert any("users ✓ 40" in t for t in progress) and len(progress) >= 5

    mongo.promptbase.feedback.insert_many([{"type": "idea"} for _ in range(500)])
    backup(stack, "run")
    final(stack, "Backup B2 done")
    listing = str(backup(stack, "list")["blocks"])
    assert "*B2*" in listing and "*B1*" in listing and "Size trend" in listing and "%" in listing

    backup(stack, "verify B1 --restore")
    assert "restored into a scratch database" in final(stack, "B1 verified")["text"]

    refused = backup(stack, "restore B1", user=BOB)
    assert "Only <@U0ALICE01> may restore" in refused["text"]
    question = backup(stack, "restore B1")
    assert "This replaces these collections" in question["text"]
    confirm = next(
        e
        for b in question["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Restore B1"
    )
    message = Message("C0CMD", "1.000001", "U0OPSBOT", question["text"])
    stack.press(confirm, message, user=BOB)  # a button anyone can see; not anyone can press
    assert "Only <@U0ALICE01> may restore" in final(stack, "may restore")["text"]
    assert mongo.promptbase.feedback.count_documents({}) == 509
    stack.press(confirm, message, user=ALICE)
    final(stack, "Backup B1 restored")
    assert mongo.promptbase.feedback.count_documents({}) == 9
    reasons = [r.reason for r in stack.deps.store.backups.find(limit=5)]
    assert reasons[0] == "before restoring B1"  # the safety backup came first


def test_not_configured_says_so(tmp_path: Path) -> None:
    """Without MONGODB_URI, /backup explains and changes nothing."""
    with LocalSlack() as slack:
        stack = Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)))
        try:
            answer = backup(stack, "run")
        finally:
            stack.stop()
    assert "MONGODB_URI is not set" in answer["text"]


def test_cleanup_asks_first_and_records_what_it_deleted(stack: Stack, mongo: Any) -> None:
    """Counts first; the button deletes (allowed users only) and the counts are logged."""
    from datetime import timedelta

    now = datetime.now(UTC).replace(tzinfo=None)
    mongo.promptbase.prompts.insert_many(
        [{"isDeleted": True, "deletedAt": now - timedelta(days=120)} for _ in range(3)]
    )
    assert "may restore" in backup(stack, "cleanup", user=BOB)["text"]
    backup(stack, "cleanup")
    question = final(stack, "Cleanup candidates")
    assert "3 prompts" in question["text"]
    delete = next(
        e
        for b in question["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Delete them"
    )
    stack.press(delete, Message("C0CMD", "1.000001", "U0OPSBOT", question["text"]))
    assert "Deleted 3 prompts" in final(stack, "Deleted")["text"]
    [entry] = stack.deps.store.backups.care_log()
    assert entry.action == "cleanup" and entry.counts["prompts"] == 3


def test_monthly_review_posts_indexes_slow_queries_and_candidates(stack: Stack) -> None:
    """The db-review job posts one report in the digest channel."""
    assert "Posted the monthly database review" in stack.run("db-review")
    [post] = [m for m in stack.slack.history("#incidents") if "Monthly database review" in m.text]
    assert "*Indexes*" in post.text and "profiling is off" in post.text
    assert "Cleanup candidates" in post.text


def test_mongodb_down_is_named_not_a_crash_nor_profiling_off(tmp_path: Path) -> None:
    """With MongoDB not answering, each database command says so in a plain sentence."""
    down = pymongo.MongoClient(
        "mongodb://127.0.0.1:9/", serverSelectionTimeoutMS=200, connectTimeoutMS=200
    )
    with LocalSlack() as slack:
        stack = Stack(
            slack,
            tmp_path / "opsbot.db",
            Clock(datetime.now(UTC)),
            mongo=lambda: down,
            backup_dir=tmp_path / "backups",
            backup={"restore_allowed": [ALICE]},
        )
        try:
            for verb in ("indexes", "slow", "archive 2024"):
                backup(stack, verb)
                said = final(stack, "MongoDB did not answer")["text"]
                assert ":boom:" not in said and "profiling is off" not in said
        finally:
            stack.stop()


def test_who_may_and_what_is_missing_are_said_plainly(tmp_path: Path) -> None:
    """No MongoDB: each job names what it cannot do; nobody allowed: how to allow someone."""
    from jobs import run_job

    with LocalSlack() as slack:
        stack = Stack(slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)))
        try:
            said = {
                job: run_job(job, stack.deps, now=stack.clock())
                for job in ("backup-nightly", "backup-verify", "db-review")
            }
            indexes = backup(stack, "indexes")["text"]
            restore = backup(stack, "restore B1")["text"]
        finally:
            stack.stop()
    assert said["backup-verify"].endswith("nothing to verify.")
    assert said["db-review"].endswith("nothing to review.")
    assert "nothing to back up. opsbot's database copied to opsbot-db-" in said["backup-nightly"]
    assert "MongoDB is not configured (MONGODB_URI is not set): nothing to look at." in indexes
    assert "Nobody may restore a backup or delete data yet" in restore
    assert "`backup.restore_allowed`" in restore and "Only nobody" not in restore


def test_nightly_also_keeps_opsbots_own_database(stack: Stack, mongo: Any, tmp_path: Path) -> None:
    """Each night opsbot's SQLite file is copied online into BACKUP_DIR and off-site, under
    the same retention as the MongoDB backups; a copy opens and holds the incidents."""
    import sqlite3

    offsite = tmp_path / "offsite"
    stack.deps.settings.backup.offsite_dir = offsite
    stack.deps.settings.backup.keep_daily = 2
    stack.deps.settings.backup.keep_weekly = 0
    stack.deps.settings.backup.keep_monthly = 0
    stack.command("open P2 Search slow")
    for _ in range(3):
        stack.run("backup-nightly", days=1)
    copies = sorted((tmp_path / "backups").glob("opsbot-db-*"))
    assert len(copies) == 2  # the third night's retention removed the first
    with sqlite3.connect(copies[-1] / "opsbot.db") as db:
        assert db.execute("SELECT title FROM incidents").fetchall() == [("Search slow",)]
    assert len(list(offsite.glob("opsbot-db-*"))) == 3  # off-site keeps its own history
