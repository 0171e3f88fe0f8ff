"""The built-in dumper: names never leave the folder, and a restore brings back what a
restore needs (documents, every index option, collection options and views)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mongomock
import pytest
from pymongo import MongoClient

from commands.backup import engine


def seeded(db: Any) -> None:
    db["/etc/opsbot-escape"].insert_one({"n": 1})
    db["sub/dir"].insert_many([{"n": i} for i in range(3)])
    prompts = db["prompts"]
    prompts.insert_many([{"slug": f"p{i}", "deletedAt": None, "t": i} for i in range(5)])
    prompts.create_index(
        [("slug", 1)],
        unique=True,
        partialFilterExpression={"deletedAt": None},
        name="slug_live",
    )
    prompts.create_index([("t", 1)], expireAfterSeconds=3600, sparse=True, name="t_ttl")


def test_collection_names_never_become_paths_outside_the_backup(tmp_path: Path) -> None:
    db = mongomock.MongoClient()["pb"]
    seeded(db)
    target = tmp_path / "backups" / "B1"
    dumped = engine.dump(db, target, lambda n, c: None)
    assert dumped.counts["/etc/opsbot-escape"] == 1 and dumped.counts["sub/dir"] == 3
    assert all(path.parent == target for path in target.rglob("*"))
    assert not (tmp_path / "etc").exists() and not Path("/etc/opsbot-escape.bson.gz").exists()
    assert engine.read_counts(target)["sub/dir"] == 3


def round_trip(db: Any, tmp_path: Path) -> None:
    seeded(db)
    before_docs = {n: list(db[n].find({}, {"_id": 0})) for n in ("prompts", "sub/dir")}
    before_indexes = {i["name"]: i for i in db["prompts"].list_indexes()}
    engine.dump(db, tmp_path / "B1", lambda n, c: None)
    for name in db.list_collection_names():
        db.drop_collection(name)
    restored = engine.restore(tmp_path / "B1", db, lambda n, c: None)
    assert restored["prompts"] == 5 and restored["/etc/opsbot-escape"] == 1
    for name, docs in before_docs.items():
        assert list(db[name].find({}, {"_id": 0})) == docs
    after = {i["name"]: i for i in db["prompts"].list_indexes()}
    for name in ("slug_live", "t_ttl"):
        want = {k: v for k, v in before_indexes[name].items() if k not in ("v", "ns")}
        got = {k: v for k, v in after[name].items() if k not in ("v", "ns")}
        assert got == want, name


def test_dump_drop_restore_keeps_documents_and_every_index_option(tmp_path: Path) -> None:
    round_trip(mongomock.MongoClient()["pb"], tmp_path)


@pytest.mark.skipif(not os.environ.get("MONGODB_TEST_URI"), reason="MONGODB_TEST_URI is not set")
def test_round_trip_with_options_and_a_view_on_a_real_server(tmp_path: Path) -> None:
    client: MongoClient[Any] = MongoClient(os.environ["MONGODB_TEST_URI"])
    db = client["opsbot_engine_test"]
    client.drop_database(db.name)
    try:
        db.create_collection(
            "users", validator={"$jsonSchema": {"bsonType": "object", "required": ["email"]}}
        )
        db["users"].insert_one({"email": "a@b.c"})
        db.create_collection("live_prompts", viewOn="prompts", pipeline=[{"$match": {"t": 1}}])
        round_trip(db, tmp_path)
        infos = {c["name"]: c for c in db.list_collections()}
        assert infos["users"]["options"]["validator"]["$jsonSchema"]["required"] == ["email"]
        assert infos["live_prompts"]["type"] == "view"
    finally:
        client.drop_database(db.name)
