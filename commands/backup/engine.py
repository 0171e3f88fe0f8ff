"""The built-in dumper and its restore: mongodump's directory layout, gzipped, streamed.

<dir>/<collection>.bson.gz holds the documents as concatenated BSON (what mongorestore reads),
<dir>/<collection>.metadata.json.gz the collection's indexes. Documents are written one at a
time as the cursor yields them, so memory stays flat however large a collection is.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import bson
from bson import json_util
from pymongo.database import Database

BATCH = 1000
GZIP_LEVEL = 6  # gzip's default, as mongodump --gzip


@dataclass(frozen=True)
class Dumped:
    counts: dict[str, int]
    size: int
    sha256: str


Progress = Callable[[str, int], None]


def dump(db: Database[Any], target: Path, progress: Progress) -> Dumped:
    """Dump every collection of `db` into `target` (which must not exist yet)."""
    target.mkdir(parents=True)
    counts: dict[str, int] = {}
    for name in sorted(db.list_collection_names()):
        if name.startswith("system."):
            continue
        counts[name] = _dump_collection(db, name, target)
        progress(name, counts[name])
    return Dumped(counts, size_of(target), checksum(target))


def _dump_collection(db: Database[Any], name: str, target: Path) -> int:
    written = 0
    with gzip.open(target / f"{name}.bson.gz", "wb", compresslevel=GZIP_LEVEL) as out:
        for document in db[name].find(batch_size=BATCH):
            out.write(bson.encode(document))
            written += 1
    indexes = [dict(index) for index in db[name].list_indexes()]
    metadata = json_util.dumps({"options": {}, "indexes": indexes, "collectionName": name})
    with gzip.open(target / f"{name}.metadata.json.gz", "wt", encoding="utf-8") as meta:
        meta.write(metadata)
    return written


def documents(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the documents of one .bson.gz file."""
    with gzip.open(path, "rb") as source:
        yield from bson.decode_file_iter(cast(IO[bytes], source))


def read_counts(source: Path) -> dict[str, int]:
    """Count the documents in each file: proves every file decompresses and decodes."""
    return {
        path.name[: -len(".bson.gz")]: sum(1 for _ in documents(path))
        for path in sorted(source.glob("*.bson.gz"))
    }


def restore(source: Path, db: Database[Any], progress: Progress) -> dict[str, int]:
    """Replace each dumped collection in `db` with the dump's documents and indexes."""
    restored: dict[str, int] = {}
    for path in sorted(source.glob("*.bson.gz")):
        name = path.name[: -len(".bson.gz")]
        db.drop_collection(name)
        batch: list[dict[str, Any]] = []
        count = 0
        for document in documents(path):
            batch.append(document)
            if len(batch) == BATCH:
                db[name].insert_many(batch)
                count, batch = count + len(batch), []
        if batch:
            db[name].insert_many(batch)
            count += len(batch)
        _restore_indexes(source / f"{name}.metadata.json.gz", db, name)
        restored[name] = count
        progress(name, count)
    return restored


def _restore_indexes(metadata: Path, db: Database[Any], name: str) -> None:
    if not metadata.exists():
        return
    with gzip.open(metadata, "rt", encoding="utf-8") as meta:
        indexes = json_util.loads(meta.read()).get("indexes", [])
    for index in indexes:
        if index.get("name") == "_id_":
            continue
        keys = list(index["key"].items())
        options = {
            k: v
            for k, v in index.items()
            if k in ("name", "unique", "sparse", "expireAfterSeconds")
        }
        db[name].create_index(keys, **options)


def checksum(folder: Path) -> str:
    """SHA-256 over every file, in name order, names included."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        with path.open("rb") as data:
            for chunk in iter(lambda: data.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
