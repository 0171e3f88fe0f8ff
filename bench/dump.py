"""Documents per second of the built-in dumper against a plain loop that reads the same
documents and BSON-encodes them (no files, no gzip), same database, same run.

    python bench/dump.py [--documents 20000] [--rounds 3]

It runs against a real MongoDB when MONGODB_TEST_URI is set, else against mongomock (whose
reads dominate both sides, so the ratio shows what writing and compressing add).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from commands.backup import engine  # noqa: E402


def database(count: int) -> Any:
    uri = os.environ.get("MONGODB_TEST_URI")
    if uri:
        from pymongo import MongoClient

        client: Any = MongoClient(uri)
        db = client["opsbot_bench"]
        client.drop_database("opsbot_bench")
    else:
        import mongomock

        db = mongomock.MongoClient()["opsbot_bench"]
    batch = [
        {
            "userId": i % 500,
            "title": f"prompt {i}",
            "tags": ["a", "b", "c"][: i % 4],
            "body": {"text": "lorem ipsum " * (i % 20)},
            "isDeleted": i % 7 == 0,
        }
        for i in range(count)
    ]
    for start in range(0, count, 5000):
        db.prompts.insert_many([dict(d) for d in batch[start : start + 5000]])
    return db


def plain(db: Any) -> int:
    return sum(len(bson.encode(document)) > 0 for document in db.prompts.find(batch_size=1000))


def dumper(db: Any, folder: Path) -> int:
    return sum(engine.dump(db, folder, lambda name, n: None).counts.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    db = database(args.documents)
    rates: dict[str, list[float]] = {"plain loop": [], "dumper": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):  # alternate, so drift hits both alike
            began = time.perf_counter()
            count = plain(db)
            rates["plain loop"].append(count / (time.perf_counter() - began))
            began = time.perf_counter()
            count = dumper(db, Path(tmp) / f"r{round_number}")
            rates["dumper"].append(count / (time.perf_counter() - began))
    backend = "MongoDB" if os.environ.get("MONGODB_TEST_URI") else "mongomock"
    print(f"{args.documents} documents, {args.rounds} rounds, {backend} (medians)")
    for name, values in rates.items():
        print(f"{name:11} {statistics.median(values):10.0f} docs/s")
    ratio = statistics.median(rates["dumper"]) / statistics.median(rates["plain loop"])
    print(f"dumper / plain loop: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
