"""After an incident: its action items and its post-mortem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.base import StoreBase, _insert, _iso, _parse, _query, _sql


@dataclass(frozen=True)
class ActionItem:
    id: int
    incident: int
    owner: str
    text: str
    due: str | None
    done_at: datetime | None


@dataclass(frozen=True)
class Postmortem:
    incident_id: int
    markdown: str
    notice: str
    written_at: datetime


class FollowUpStore(StoreBase):
    # Action items ------------------------------------------------------------------------

    def add_action(
        self, number: int, *, owner: str, text: str, due: str | None, actor: str, now: datetime
    ) -> int:
        row = {
            "incident_id": number,
            "owner": owner,
            "text": text,
            "due": due,
            "created_by": actor,
            "created_at": _iso(now),
        }
        with self._write() as db:
            item = _insert(db, "action_items", row).lastrowid
        assert item is not None
        return item

    def actions(self, number: int) -> list[ActionItem]:
        sql = "SELECT * FROM action_items WHERE incident_id = ? ORDER BY id"
        with self._connect() as db:
            rows = _query(db, sql, [number])
        return [
            ActionItem(
                r["id"], r["incident_id"], r["owner"], r["text"], r["due"], _parse(r["done_at"])
            )
            for r in rows
        ]

    def finish_action(self, number: int, item: int, now: datetime) -> bool:
        sql = (
            "UPDATE action_items SET done_at = ? "
            "WHERE id = ? AND incident_id = ? AND done_at IS NULL"
        )
        with self._write() as db:
            return _sql(db, sql, [_iso(now), item, number]).rowcount > 0

    # Post-mortems ------------------------------------------------------------------------

    def save_postmortem(self, number: int, markdown: str, notice: str, at: datetime) -> None:
        with self._write() as db:
            _sql(
                db,
                "INSERT INTO postmortems (incident_id, markdown, notice, written_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET "
                "markdown = excluded.markdown, notice = excluded.notice, "
                "written_at = excluded.written_at",
                [number, markdown, notice, _iso(at)],
            )

    def postmortem(self, number: int) -> Postmortem | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM postmortems WHERE incident_id = ?", [number])
        if not rows:
            return None
        row = rows[0]
        return Postmortem(
            row["incident_id"],
            row["markdown"],
            row["notice"],
            datetime.fromisoformat(row["written_at"]),
        )
