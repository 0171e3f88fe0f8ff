"""The on-call rotation, overrides, swaps and their audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.store.base import StoreBase, _insert, _iso, _query


def _audit(db: Database, now: datetime, actor: str, action: str, detail: str) -> None:
    _insert(
        db, "oncall_audit", {"at": _iso(now), "actor": actor, "action": action, "detail": detail}
    )


def _add_override(
    db: Database, user: str, start: datetime, end: datetime, reason: str, actor: str, now: datetime
) -> int:
    row = {
        "user": user,
        "starts_at": _iso(start),
        "ends_at": _iso(end),
        "reason": reason,
        "created_by": actor,
        "created_at": _iso(now),
    }
    item = _insert(db, "oncall_overrides", row).lastrowid
    assert item is not None
    _audit(db, now, actor, "override", f"{user} {_iso(start)}..{_iso(end)} ({reason})")
    return item


class OnCallStore(StoreBase):
    # On call -----------------------------------------------------------------------------

    def rotation(self) -> tuple[list[str], datetime] | None:
        """The stored rotation: members in order and the wall-clock anchor of the first week."""
        with self._connect() as db:
            rows = _query(db, "SELECT members, anchor FROM oncall_rotation WHERE id = 1")
        if not rows:
            return None
        return json.loads(rows[0]["members"]), datetime.fromisoformat(rows[0]["anchor"])

    def set_rotation(
        self, members: list[str], anchor: datetime, *, actor: str, now: datetime
    ) -> None:
        row = {
            "id": 1,
            "members": members,
            "anchor": anchor.isoformat(),
            "updated_by": actor,
            "updated_at": _iso(now),
        }
        with self._write() as db:
            db.execute("DELETE FROM oncall_rotation WHERE id = 1")
            _insert(db, "oncall_rotation", row)
            _audit(
                db, now, actor, "set", f"rotation {' '.join(members)} from {anchor:%Y-%m-%d %H:%M}"
            )

    def overrides(self, since: datetime) -> list[dict[str, Any]]:
        """Overrides still running or to come after `since`, oldest first."""
        sql = "SELECT * FROM oncall_overrides WHERE ends_at > ? ORDER BY id"
        with self._connect() as db:
            rows = _query(db, sql, [_iso(since)])
        return [
            {
                **r,
                "starts_at": datetime.fromisoformat(r["starts_at"]),
                "ends_at": datetime.fromisoformat(r["ends_at"]),
            }
            for r in rows
        ]

    def add_override(
        self, user: str, start: datetime, end: datetime, *, reason: str, actor: str, now: datetime
    ) -> int:
        with self._write() as db:
            return _add_override(db, user, start, end, reason, actor, now)

    def request_swap(
        self,
        requester: str,
        target: str,
        give: tuple[datetime, datetime],
        take: tuple[datetime, datetime],
        now: datetime,
    ) -> int:
        row = {
            "requester": requester,
            "target": target,
            "give_start": _iso(give[0]),
            "give_end": _iso(give[1]),
            "take_start": _iso(take[0]),
            "take_end": _iso(take[1]),
            "status": "pending",
            "created_at": _iso(now),
        }
        with self._write() as db:
            swap = _insert(db, "oncall_swaps", row).lastrowid
            _audit(db, now, requester, "swap-request", f"S{swap} with {target}")
        assert swap is not None
        return swap

    def swap(self, swap_id: int) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM oncall_swaps WHERE id = ?", [swap_id])
        if not rows:
            return None
        times = ("give_start", "give_end", "take_start", "take_end")
        return {**rows[0], **{k: datetime.fromisoformat(rows[0][k]) for k in times}}

    def decide_swap(self, swap_id: int, accepted: bool, *, actor: str, now: datetime) -> bool:
        """Accept (both overrides, at once) or decline a pending swap; False if not pending."""
        with self._write() as db:
            rows = _query(
                db, "SELECT * FROM oncall_swaps WHERE id = ? AND status = 'pending'", [swap_id]
            )
            if not rows:
                return False
            swap = rows[0]
            status = "accepted" if accepted else "declined"
            db.execute(
                "UPDATE oncall_swaps SET status = ?, decided_at = ? WHERE id = ?",
                [status, _iso(now), swap_id],
            )
            if accepted:
                give = (
                    datetime.fromisoformat(swap["give_start"]),
                    datetime.fromisoformat(swap["give_end"]),
                )
                take = (
                    datetime.fromisoformat(swap["take_start"]),
                    datetime.fromisoformat(swap["take_end"]),
                )
                _add_override(db, swap["target"], *give, f"swap S{swap_id}", actor, now)
                _add_override(db, swap["requester"], *take, f"swap S{swap_id}", actor, now)
            _audit(db, now, actor, f"swap-{status}", f"S{swap_id}")
        return True

    def audit(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _query(db, "SELECT * FROM oncall_audit ORDER BY id DESC LIMIT ?", [limit])
