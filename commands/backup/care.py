"""The plan's monthly database care: recommended indexes, slow queries, cleanup candidates
counted before anything is deleted, and the yearly archive of old documents."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bson
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

# The plan's "Recommended Indexes", as key lists.
RECOMMENDED: dict[str, list[list[tuple[str, int]]]] = {
    "users": [[("email", 1)], [("createdAt", 1)]],
    "prompts": [
        [("userId", 1), ("createdAt", -1)],
        [("status", 1)],
        [("tags", 1)],
        [("isDeleted", 1)],
    ],
    "analyticsEvents": [
        [("userId", 1), ("timestamp", -1)],
        [("eventType", 1), ("timestamp", -1)],
        [("sessionId", 1)],
    ],
    "feedback": [
        [("type", 1), ("status", 1)],
        [("priority", 1), ("status", 1)],
        [("createdAt", 1)],
    ],
}


@dataclass(frozen=True)
class IndexReview:
    missing: dict[str, list[str]]
    unused: dict[str, list[str]]
    usage_known: bool


def _fields(keys: list[tuple[str, int]]) -> tuple[str, ...]:
    return tuple(name for name, _ in keys)


def review_indexes(db: Database[Any]) -> IndexReview:
    """Missing: a recommended index with no existing index on the same fields in that order
    (direction aside). Unused: no operations since the server started, per $indexStats."""
    missing: dict[str, list[str]] = {}
    unused: dict[str, list[str]] = {}
    usage_known = True
    for collection, wanted in RECOMMENDED.items():
        existing = {_fields(list(index["key"].items())) for index in db[collection].list_indexes()}
        gaps = [" + ".join(_fields(keys)) for keys in wanted if _fields(keys) not in existing]
        if gaps:
            missing[collection] = gaps
        try:
            stats = list(db[collection].aggregate([{"$indexStats": {}}]))
        except ConnectionFailure:
            raise  # MongoDB is down: say so, not "usage unknown"
        except (OperationFailure, NotImplementedError, PyMongoError):
            usage_known = False
            continue
        idle = [
            s["name"]
            for s in stats
            if s["name"] != "_id_" and int(s.get("accesses", {}).get("ops", 0)) == 0
        ]
        if idle:
            unused[collection] = idle
    return IndexReview(missing, unused, usage_known)


def slow_queries(db: Database[Any], limit: int = 10) -> list[dict[str, Any]] | None:
    """The slowest profiled operations, or None when profiling is off or not available."""
    try:
        level = db.command({"profile": -1}).get("was", 0)
    except ConnectionFailure:
        raise  # MongoDB is down: say so, not "profiling is off"
    except (OperationFailure, NotImplementedError, PyMongoError):
        return None
    if not level:
        return None
    rows = db["system.profile"].find({}, {"op": 1, "ns": 1, "millis": 1, "ts": 1})
    return list(rows.sort("millis", -1).limit(limit))


def cleanup_filters(now: datetime) -> dict[str, dict[str, Any]]:
    """The plan's cleanup: prompts soft-deleted over 90 days ago, sessions idle over 30 days."""
    return {
        "prompts": {"isDeleted": True, "deletedAt": {"$lt": now - timedelta(days=90)}},
        "sessions": {"lastActivity": {"$lt": now - timedelta(days=30)}},
    }


def count_candidates(db: Database[Any], now: datetime) -> dict[str, int]:
    return {name: db[name].count_documents(query) for name, query in cleanup_filters(now).items()}


def delete_candidates(db: Database[Any], now: datetime) -> dict[str, int]:
    return {
        name: db[name].delete_many(query).deleted_count
        for name, query in cleanup_filters(now).items()
    }


def archive_filter(year: int) -> dict[str, Any]:
    return {"createdAt": {"$lt": datetime(year, 1, 1)}}


def archive(db: Database[Any], year: int, folder: Path) -> dict[str, int]:
    """Copy prompts created before `year` into <folder>/prompts.bson.gz; nothing is removed."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    with gzip.open(folder / "prompts.bson.gz", "wb") as out:
        for document in db.prompts.find(archive_filter(year)):
            out.write(bson.encode(document))
            written += 1
    return {"prompts": written}


def remove_archived(db: Database[Any], year: int, expected: int) -> int:
    """Remove what was archived, only if the count still matches what the archive holds."""
    query = archive_filter(year)
    if db.prompts.count_documents(query) != expected:
        raise ValueError("the documents changed since they were archived; archive again")
    return int(db.prompts.delete_many(query).deleted_count)
