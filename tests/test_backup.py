"""The built-in dumper on mongomock: round trip, failure injection, verify, retention."""

from __future__ import annotations

import gzip
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import mongomock
import pytest
from pymongo.errors import AutoReconnect

from bot.replies import UserError
from commands.backup import engine, service
from tests.conftest import T0

pytestmark = pytest.mark.both_engines  # the backup records, on SQLite and on PostgreSQL


def seed(client: Any, db: str = "promptbase") -> dict[str, int]:
    """Prompt-Base-like collections with nested documents, dates and ObjectIds."""
    rng = random.Random(7)
    data = client[db]
    users = [{"email": f"u{i}@pb.test", "createdAt": T0 - timedelta(days=i)} for i in range(40)]
    data.users.insert_many(users)
    data.users.create_index("email", unique=True)
    data.prompts.insert_many(
        [
            {
                "userId": users[rng.randrange(40)]["_id"],
                "title": f"p{i}",
                "tags": ["a", "b"][: rng.randrange(3)],
                "isDeleted": i % 5 == 0,
                "body": {"text": "x" * rng.randrange(200)},
            }
            for i in range(250)
        ]
    )
    data.prompts.create_index([("userId", 1), ("createdAt", -1)])
    data.analyticsEvents.insert_many([{"eventType": "view", "n": i} for i in range(120)])
    data.feedback.insert_many([{"type": "bug", "status": "new"} for _ in range(9)])
    data.sessions.insert_many([{"lastActivity": T0 - timedelta(days=i)} for i in range(60)])
    return {"analyticsEvents": 120, "feedback": 9, "prompts": 250, "sessions": 60, "users": 40}


@pytest.fixture
def mongo() -> Any:
    return mongomock.MongoClient()


@pytest.fixture
def bdeps(deps, mongo, tmp_path):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    settings = deps.settings.model_copy(update={"backup_dir": tmp_path / "backups"})
    return replace(deps, settings=settings, mongo=lambda: mongo)


def test_round_trip_restores_identical_documents(tmp_path: Path, mongo: Any) -> None:
    """dump -> restore into another database -> the same documents and indexes."""
    expected = seed(mongo)
    seen: list[str] = []
    dumped = engine.dump(mongo.promptbase, tmp_path / "b1", lambda name, n: seen.append(name))
    assert dumped.counts == expected and seen == sorted(expected)
    assert sorted(p.name for p in (tmp_path / "b1").iterdir())[:2] == [
        "analyticsEvents.bson.gz",
        "analyticsEvents.metadata.json.gz",
    ]
    restored = engine.restore(tmp_path / "b1", mongo.copy, lambda name, n: None)
    assert restored == expected
    for name in expected:
        original = sorted(mongo.promptbase[name].find(), key=lambda d: str(d["_id"]))
        copy = sorted(mongo.copy[name].find(), key=lambda d: str(d["_id"]))
        assert copy == original
    assert "email_1" in mongo.copy.users.index_information()


def test_backup_is_recorded_and_verified(bdeps: Any, mongo: Any) -> None:
    """A backup row gets counts, size and checksum; verify --restore passes and cleans up."""
    expected = seed(mongo)
    outcome = service.run_backup(bdeps, reason="test", progress=lambda name, n: None)
    row = bdeps.store.backups.backup(outcome.id)
    assert (row.status, row.counts, row.size > 0) == ("ok", expected, True)
    _, problems = service.verify(
        bdeps, outcome.id, restore_test=True, progress=lambda name, n: None
    )
    assert problems == []
    assert "promptbase_restore_test" not in mongo.list_database_names()
    assert bdeps.store.backups.backup(outcome.id).verify_result == "passed with restore test"


def test_tampered_backup_fails_verification(bdeps: Any, mongo: Any) -> None:
    """A changed file is caught by the checksum."""
    seed(mongo)
    outcome = service.run_backup(bdeps, reason="test", progress=lambda name, n: None)
    path = Path(bdeps.store.backups.backup(outcome.id).path) / "feedback.metadata.json.gz"
    path.write_bytes(gzip.compress(b'{"indexes": []}'))
    _, problems = service.verify(
        bdeps, outcome.id, restore_test=False, progress=lambda name, n: None
    )
    assert problems and problems[0] == "checksum differs from the one recorded"


def test_connection_drop_mid_dump_leaves_no_files(bdeps: Any, mongo: Any) -> None:
    """The connection drops in the third collection: status failed, no partial files."""
    seed(mongo)
    original = mongomock.collection.Collection.find
    calls = {"n": 0}

    def flaky(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise AutoReconnect("connection reset by peer")
        return original(self, *args, **kwargs)

    mongomock.collection.Collection.find = flaky
    try:
        outcome = service.run_backup(bdeps, reason="test", progress=lambda name, n: None)
    finally:
        mongomock.collection.Collection.find = original
    row = bdeps.store.backups.backup(outcome.id)
    assert (row.status, row.error) == ("failed", "AutoReconnect")
    assert not Path(row.path).exists()
    with pytest.raises(UserError, match="No good backup yet"):
        service.verify(bdeps, None, restore_test=False, progress=lambda name, n: None)


def test_interrupted_backup_is_marked_failed_at_start(bdeps: Any) -> None:
    """A row left running by a crash is failed and its folder removed when a process starts
    leading; one that a live process runs is left alone."""
    folder = bdeps.settings.backup_dir / "half"
    folder.mkdir(parents=True)
    (folder / "users.bson.gz").write_bytes(b"partial")
    start = bdeps.store.backups.start_backup
    backup_id = start("builtin", "promptbase", str(folder), "x", T0, "host:1:dead")
    assert service.recover(bdeps, lambda owner: owner != "host:1:dead") == []
    assert bdeps.store.backups.backup(backup_id).status == "running" and folder.exists()
    assert service.recover(bdeps, lambda owner: owner == "host:1:dead") == [backup_id]
    assert bdeps.store.backups.backup(backup_id).status == "failed" and not folder.exists()


def test_one_backup_at_a_time(bdeps: Any, mongo: Any) -> None:
    """While one is running, another is refused."""
    bdeps.store.backups.start_backup("builtin", "promptbase", "/tmp/x", "x", T0)
    with pytest.raises(UserError, match="already running"):
        service.run_backup(bdeps, reason="test", progress=lambda name, n: None)


def test_retention_keeps_daily_weekly_monthly(bdeps: Any, clock: Any) -> None:
    """Of 60 nightly backups, 7 daily + weekly + monthly survivors remain; files go too."""
    ids = []
    for day in range(60):
        folder = bdeps.settings.backup_dir / f"d{day}"
        folder.mkdir(parents=True)
        backup_id = bdeps.store.backups.start_backup(
            "builtin", "pb", str(folder), "n", T0 - timedelta(days=60 - day)
        )
        bdeps.store.backups.finish_backup(backup_id, status="ok", size=1, sha256="x", counts="{}")
        ids.append(backup_id)
    expired = service.retention(bdeps, T0)
    kept = [r.id for r in bdeps.store.backups.find(status="ok", limit=100)]
    assert ids[-7:] == sorted(kept)[-7:] and len(kept) < 20
    assert set(expired) | set(kept) == set(ids)
    assert not Path(bdeps.store.backups.backup(expired[0]).path).exists()


def test_restore_needs_an_allowed_user(bdeps: Any) -> None:
    """Nobody may restore until restore_allowed names them."""
    with pytest.raises(UserError, match="Nobody may restore"):
        service.require_restorer(bdeps, "U0ALICE01")


def test_offsite_copy_by_directory_and_by_command(bdeps: Any, mongo: Any, tmp_path: Path) -> None:
    """Each good backup is copied to offsite_dir and handed to offsite_command as one argv
    element (no shell: a path with spaces and a ; stays one argument)."""
    import sys
    from dataclasses import replace

    seed(mongo)
    marker = tmp_path / "offsite; rm -rf x"
    script = "import sys, pathlib; pathlib.Path(sys.argv[2]).write_text(sys.argv[1])"
    policy = bdeps.settings.backup.model_copy(
        update={
            "offsite_dir": tmp_path / "far away",
            "offsite_command": [sys.executable, "-c", script, "{path}", str(marker)],
        }
    )
    offsite = replace(bdeps, settings=bdeps.settings.model_copy(update={"backup": policy}))
    outcome = service.run_backup(offsite, reason="t", progress=lambda n, c: None)
    folder = Path(offsite.store.backups.backup(outcome.id).path)
    assert (tmp_path / "far away" / folder.name / "users.bson.gz").exists()
    assert marker.read_text() == str(folder)
