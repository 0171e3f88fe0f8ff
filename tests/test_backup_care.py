"""Database care on mongomock: index review, slow queries, cleanup and archive."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import mongomock
import pytest

from commands.backup import care, engine

NOW = datetime(2026, 11, 27, 10, 0)


@pytest.fixture
def db() -> Any:
    data = mongomock.MongoClient().promptbase
    data.users.create_index("email", unique=True)
    data.prompts.create_index([("userId", 1), ("createdAt", -1)])
    data.prompts.insert_many(
        [
            {
                "isDeleted": True,
                "deletedAt": NOW - timedelta(days=d),
                "createdAt": datetime(2024, 6, 1),
            }
            for d in (10, 89, 91, 200)
        ]
        + [{"isDeleted": False, "createdAt": datetime(2026, 1, 1)} for _ in range(3)]
    )
    data.sessions.insert_many([{"lastActivity": NOW - timedelta(days=d)} for d in (1, 29, 31, 90)])
    return data


def test_index_review_names_what_is_missing(db: Any) -> None:
    """The plan's recommended indexes that do not exist are listed per collection."""
    review = care.review_indexes(db)
    assert "createdAt" in review.missing["users"]
    assert "userId + createdAt" not in review.missing["prompts"]
    assert review.missing["prompts"] == ["status", "tags", "isDeleted"]
    assert "analyticsEvents" in review.missing and "feedback" in review.missing


def test_slow_queries_say_when_profiling_is_off(db: Any) -> None:
    """No profiler (mongomock has none): the report says how to turn it on."""
    assert care.slow_queries(db) is None


def test_cleanup_counts_then_deletes_only_the_plans_candidates(db: Any) -> None:
    """Prompts soft-deleted over 90 days ago and sessions idle over 30 days, nothing else."""
    assert care.count_candidates(db, NOW) == {"prompts": 2, "sessions": 2}
    assert care.delete_candidates(db, NOW) == {"prompts": 2, "sessions": 2}
    assert db.prompts.count_documents({}) == 5 and db.sessions.count_documents({}) == 2


def test_archive_copies_then_removes_only_what_it_copied(db: Any, tmp_path: Path) -> None:
    """Old prompts go to a .bson.gz first; removal refuses if the set changed meanwhile."""
    assert care.archive(db, 2025, tmp_path / "a") == {"prompts": 4}
    assert sum(1 for _ in engine.documents(tmp_path / "a" / "prompts.bson.gz")) == 4
    db.prompts.insert_one({"createdAt": datetime(2023, 1, 1)})
    with pytest.raises(ValueError, match="changed since they were archived"):
        care.remove_archived(db, 2025, 4)
    assert care.archive(db, 2025, tmp_path / "a") == {"prompts": 5}
    assert care.remove_archived(db, 2025, 5) == 5
    assert db.prompts.count_documents({}) == 3
