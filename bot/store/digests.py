"""Digests as posted, and the marks of who reviewed what and which checklist items are
done."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.store.base import StoreBase, _insert, _iso, _parse, _query, _sql


@dataclass(frozen=True)
class Digest:
    id: int
    kind: str  # daily, weekly, monthly, quarterly, annual
    day: date
    channel: str  # "" until the message is posted
    ts: str
    posted_at: datetime
    sections: list[dict[str, str]]  # each with key, title, state, text


@dataclass(frozen=True)
class DigestMark:
    """`user` did `item` on a digest: a check reviewed (or "all"), a checklist item done."""

    digest_id: int
    item: str
    user: str
    at: datetime


def _digest(row: dict[str, Any]) -> Digest:
    posted = _parse(row["posted_at"])
    assert posted is not None
    return Digest(
        id=row["id"],
        kind=row["kind"],
        day=date.fromisoformat(row["day"]),
        channel=row["channel"] or "",
        ts=row["ts"] or "",
        posted_at=posted,
        sections=json.loads(row["sections"] or "[]"),
    )


def _mark(row: dict[str, Any]) -> DigestMark:
    at = _parse(row["at"])
    assert at is not None
    return DigestMark(row["digest_id"], row["item"], row["user"], at)


class DigestStore(StoreBase):
    def add_digest(
        self,
        kind: str,
        day: str,
        channel: str,
        ts: str,
        now: datetime,
        sections: list[dict[str, str]],
    ) -> int:
        row = {
            "kind": kind,
            "day": day,
            "channel": channel,
            "ts": ts,
            "posted_at": _iso(now),
            "sections": sections,
        }
        with self._write() as db:
            digest_id = _insert(db, "digests", row).lastrowid
        assert digest_id is not None
        return digest_id

    def set_digest_message(self, digest_id: int, channel: str, ts: str) -> None:
        with self._write() as db:
            _sql(
                db, "UPDATE digests SET channel = ?, ts = ? WHERE id = ?", [channel, ts, digest_id]
            )

    def digest(self, digest_id: int) -> Digest | None:
        found = self._digests("id = ?", [digest_id])
        return found[0] if found else None

    def digest_at(self, channel: str, ts: str) -> Digest | None:
        """The digest posted as this message."""
        found = self._digests("channel = ? AND ts = ?", [channel, ts])
        return found[0] if found else None

    def digests(self, first: str, last: str, kind: str | None = None) -> list[Digest]:
        """The digests of the days `first` to `last` (ISO dates, both included), oldest first."""
        where, args = "day >= ? AND day <= ?", [first, last]
        if kind is not None:
            where, args = f"{where} AND kind = ?", [*args, kind]
        return self._digests(where, args)

    def _digests(self, where: str, args: list[Any]) -> list[Digest]:
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM digests WHERE {where} ORDER BY id", args)
        return [_digest(row) for row in rows]

    def mark(
        self, digest_id: int, item: str, user: str, now: datetime, *, add: bool = True
    ) -> bool:
        """Record (or with add=False remove) that `user` did `item`; False if nothing changed."""
        with self._write() as db:
            if add:
                return (
                    _sql(
                        db,
                        "INSERT OR IGNORE INTO digest_marks VALUES (?, ?, ?, ?)",
                        [digest_id, item, user, _iso(now)],
                    ).rowcount
                    == 1
                )
            return (
                _sql(
                    db,
                    "DELETE FROM digest_marks WHERE digest_id = ? AND item = ? AND user = ?",
                    [digest_id, item, user],
                ).rowcount
                == 1
            )

    def marks(self, digest_id: int) -> list[DigestMark]:
        with self._connect() as db:
            rows = _query(
                db, "SELECT * FROM digest_marks WHERE digest_id = ? ORDER BY at", [digest_id]
            )
        return [_mark(row) for row in rows]
