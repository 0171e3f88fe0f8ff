"""After an incident: its action items and its post-mortem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from bot.store.base import Repository
from bot.store.schema.records import action_items, postmortems
from bot.store.sql import _iso, _parse, _rows, cells, upsert


@dataclass(frozen=True)
class ActionItem:
    id: int
    incident: int
    owner: str
    text: str
    due: str | None
    done_at: datetime | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Postmortem:
    incident_id: int
    markdown: str
    notice: str
    written_at: datetime


def _item(r: dict[str, Any]) -> ActionItem:
    done, made = _parse(r["done_at"]), _parse(r["created_at"])
    return ActionItem(r["id"], r["incident_id"], r["owner"], r["text"], r["due"], done, made)


class FollowUpStore(Repository):
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
        added = insert(action_items).values(cells(row))
        with self._write() as db:
            item: int = db.execute(added.returning(action_items.c.id)).scalar_one()
        return item

    def actions(self, number: int) -> list[ActionItem]:
        query = select(action_items).where(action_items.c.incident_id == number)
        with self._connect() as db:
            return [_item(r) for r in _rows(db.execute(query.order_by(action_items.c.id)))]

    def open_actions(self) -> list[ActionItem]:
        """Every action item not done yet, over all incidents, oldest first."""
        query = select(action_items).where(action_items.c.done_at.is_(None))
        with self._connect() as db:
            return [_item(r) for r in _rows(db.execute(query.order_by(action_items.c.id)))]

    def finish_action(self, number: int, item: int, now: datetime) -> bool:
        done = (
            update(action_items)
            .where(
                action_items.c.id == item,
                action_items.c.incident_id == number,
                action_items.c.done_at.is_(None),
            )
            .values(done_at=_iso(now))
        )
        with self._write() as db:
            return db.execute(done).rowcount > 0

    # Post-mortems ------------------------------------------------------------------------

    def save_postmortem(self, number: int, markdown: str, notice: str, at: datetime) -> None:
        with self._write() as db:
            put = upsert(db, postmortems).values(
                incident_id=number, markdown=markdown, notice=notice, written_at=_iso(at)
            )
            db.execute(
                put.on_conflict_do_update(
                    index_elements=["incident_id"],
                    set_={
                        "markdown": put.excluded.markdown,
                        "notice": put.excluded.notice,
                        "written_at": put.excluded.written_at,
                    },
                )
            )

    def postmortem(self, number: int) -> Postmortem | None:
        query = select(postmortems).where(postmortems.c.incident_id == number)
        with self._connect() as db:
            row = db.execute(query).mappings().first()
        if row is None:
            return None
        return Postmortem(
            row["incident_id"],
            row["markdown"],
            row["notice"],
            datetime.fromisoformat(row["written_at"]),
        )
