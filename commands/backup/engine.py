"""The built-in dumper and its restore: mongodump's directory layout, gzipped, streamed.

<dir>/<collection>.bson.gz holds the documents as concatenated BSON (what mongorestore reads),
<dir>/<collection>.metadata.json.gz the collection's options and full index specifications.
Documents are written one at a time as the cursor yields them, so memory stays flat however
large a collection is. File names are the collection names percent-encoded, as mongodump
escapes them: a name never becomes a path outside the backup folder. A view has no
documents: its definition is kept in its metadata file and it is created again on restore.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import quote, unquote

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


def stem(name: str) -> str:
    """A collection name as a file name: percent-encoded, so '/', '..' and the like stay
    inside the folder (mongodump escapes names the same way)."""
    encoded = quote(name, safe="")
    return encoded.replace(".", "%2E") if set(encoded) <= {"."} else encoded


def _inside(target: Path, file: str) -> Path:
    path = target / file
    if path.resolve().parent != target.resolve():
        raise ValueError(f"unsafe collection file name {file!r}")
    return path


def collections(db: Database[Any]) -> list[dict[str, Any]]:
    """Each collection's name, type (collection or view) and options."""
    try:
        return [dict(info) for info in db.list_collections()]
    except NotImplementedError:  # mongomock has no listCollections; it has no options either
        return [
            {"name": n, "type": "collection", "options": {}} for n in db.list_collection_names()
        ]


def dump(db: Database[Any], target: Path, progress: Progress) -> Dumped:
    """Dump every collection of `db` into `target` (which must not exist yet)."""
    target.mkdir(parents=True)
    counts: dict[str, int] = {}
    for info in sorted(collections(db), key=lambda c: str(c["name"])):
        name = str(info["name"])
        if name.startswith("system."):
            continue
        counts[name] = _dump_collection(db, info, target)
        progress(name, counts[name])
    return Dumped(counts, size_of(target), checksum(target))


def _dump_collection(db: Database[Any], info: dict[str, Any], target: Path) -> int:
    name, kind = str(info["name"]), info.get("type", "collection")
    written = 0
    with gzip.open(_inside(target, f"{stem(name)}.bson.gz"), "wb", compresslevel=GZIP_LEVEL) as out:
        if kind == "collection":
            for document in db[name].find(batch_size=BATCH):
                out.write(bson.encode(document))
                written += 1
    indexes = [dict(index) for index in db[name].list_indexes()] if kind == "collection" else []
    metadata = json_util.dumps(
        {
            "options": info.get("options") or {},
            "indexes": indexes,
            "collectionName": name,
            "type": kind,
        }
    )
    with gzip.open(
        _inside(target, f"{stem(name)}.metadata.json.gz"), "wt", encoding="utf-8"
    ) as meta:
        meta.write(metadata)
    return written


def documents(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the documents of one .bson.gz file."""
    with gzip.open(path, "rb") as source:
        yield from bson.decode_file_iter(cast(IO[bytes], source))


def _name(path: Path) -> str:
    return unquote(path.name[: -len(".bson.gz")])


def read_counts(source: Path) -> dict[str, int]:
    """Count the documents in each file: proves every file decompresses and decodes."""
    return {
        _name(path): sum(1 for _ in documents(path)) for path in sorted(source.glob("*.bson.gz"))
    }


def restore(source: Path, db: Database[Any], progress: Progress) -> dict[str, int]:
    """Replace each dumped collection in `db` with the dump's documents and indexes."""
    restored: dict[str, int] = {}
    views = []
    for path in sorted(source.glob("*.bson.gz")):
        name = _name(path)
        meta = _metadata(source / f"{path.name[: -len('.bson.gz')]}.metadata.json.gz")
        db.drop_collection(name)
        if meta.get("type") == "view":
            views.append((name, meta.get("options") or {}))
            continue
        if meta.get("options"):
            db.create_collection(name, **meta["options"])
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
        _restore_indexes(meta.get("indexes", []), db, name)
        restored[name] = count
        progress(name, count)
    for name, options in views:  # after the collections they are defined on
        db.create_collection(name, **options)
        restored[name] = 0
    return restored


def _metadata(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as meta:
        loaded: dict[str, Any] = json_util.loads(meta.read())
    return loaded


def _restore_indexes(indexes: list[dict[str, Any]], db: Database[Any], name: str) -> None:
    """Every index as it was: unique, partial filter, TTL, collation, sparse, weights..."""
    for index in indexes:
        if index.get("name") == "_id_":
            continue
        keys = list(index["key"].items())
        options = {k: v for k, v in index.items() if k not in ("key", "v", "ns")}
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
