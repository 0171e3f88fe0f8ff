"""Digests as posted, and the marks of who reviewed what and which checklist items are
done."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select, update

from bot.store.base import Repository
from bot.store.schema.records import digest_marks, digests
from bot.store.sql import _iso, _parse, _rows, cells, upsert


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


class DigestStore(Repository):
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
            add = insert(digests).values(cells(row))
            digest_id: int = db.execute(add.returning(digests.c.id)).scalar_one()
        return digest_id

    def set_digest_message(self, digest_id: int, channel: str, ts: str) -> None:
        with self._write() as db:
            db.execute(
                update(digests).where(digests.c.id == digest_id).values(channel=channel, ts=ts)
            )

    def digest(self, digest_id: int) -> Digest | None:
        found = self._digests(digests.c.id == digest_id)
        return found[0] if found else None

    def digest_at(self, channel: str, ts: str) -> Digest | None:
        """The digest posted as this message."""
        found = self._digests(digests.c.channel == channel, digests.c.ts == ts)
        return found[0] if found else None

    def find(self, first: str, last: str, kind: str | None = None) -> list[Digest]:
        """The digests of the days `first` to `last` (ISO dates, both included), oldest first."""
        within = [digests.c.day >= first, digests.c.day <= last]
        if kind is not None:
            within.append(digests.c.kind == kind)
        return self._digests(*within)

    def _digests(self, *where: ColumnElement[bool]) -> list[Digest]:
        with self._connect() as db:
            rows = _rows(db.execute(select(digests).where(*where).order_by(digests.c.id)))
        return [_digest(row) for row in rows]

    def mark(
        self, digest_id: int, item: str, user: str, now: datetime, *, add: bool = True
    ) -> bool:
        """Record (or with add=False remove) that `user` did `item`; False if nothing changed."""
        with self._write() as db:
            if add:
                made = upsert(db, digest_marks).values(
                    digest_id=digest_id, item=item, user=user, at=_iso(now)
                )
                # RETURNING, not rowcount: an INSERT's rowcount is not reliable on every driver
                done = made.on_conflict_do_nothing().returning(digest_marks.c.digest_id)
                return db.execute(done).first() is not None
            gone = delete(digest_marks).where(
                digest_marks.c.digest_id == digest_id,
                digest_marks.c.item == item,
                digest_marks.c.user == user,
            )
            return db.execute(gone).rowcount == 1

    def marks(self, digest_id: int) -> list[DigestMark]:
        query = (
            select(digest_marks)
            .where(digest_marks.c.digest_id == digest_id)
            .order_by(digest_marks.c.at)
        )
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return [_mark(row) for row in rows]
