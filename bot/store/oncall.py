"""The on-call rotation, overrides, swaps and their audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from bot.store.base import Repository
from bot.store.schema.records import (
    oncall_audit,
    oncall_overrides,
    oncall_rotation,
    oncall_swaps,
)
from bot.store.sql import _iso, _parse, _rows, cells

# Every card and page asks who is on call: these two are built once.
_ROTATION = select(oncall_rotation.c.members, oncall_rotation.c.anchor).where(
    oncall_rotation.c.id == 1
)
_OVERRIDES = (
    select(oncall_overrides)
    .where(oncall_overrides.c.ends_at > bindparam("since"))
    .order_by(oncall_overrides.c.id)
)


@dataclass(frozen=True)
class Override:
    """Someone on call from `starts_at` to `ends_at`, over the rotation (a swap is two)."""

    id: int
    user: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Swap:
    """`requester` asks `target` to trade shifts: the target takes the requester's (give), the
    requester the target's (take); accepted, they are two overrides."""

    id: int
    requester: str
    target: str
    give_start: datetime
    give_end: datetime
    take_start: datetime
    take_end: datetime
    status: str  # pending, accepted or declined
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class OnCallAuditEntry:
    """One change to the on-call schedule, or a swap asked or answered: who, what, when."""

    id: int
    at: datetime
    actor: str
    action: str  # set, override, swap-request, swap-accepted, swap-declined
    detail: str


def _override(row: dict[str, Any]) -> Override:
    return Override(
        row["id"],
        row["user"],
        datetime.fromisoformat(row["starts_at"]),
        datetime.fromisoformat(row["ends_at"]),
        row["reason"],
        row["created_by"],
        datetime.fromisoformat(row["created_at"]),
    )


def _swap(row: dict[str, Any]) -> Swap:
    return Swap(
        row["id"],
        row["requester"],
        row["target"],
        datetime.fromisoformat(row["give_start"]),
        datetime.fromisoformat(row["give_end"]),
        datetime.fromisoformat(row["take_start"]),
        datetime.fromisoformat(row["take_end"]),
        row["status"],
        datetime.fromisoformat(row["created_at"]),
        _parse(row["decided_at"]),
    )


def _audit_entry(row: dict[str, Any]) -> OnCallAuditEntry:
    return OnCallAuditEntry(
        row["id"], datetime.fromisoformat(row["at"]), row["actor"], row["action"], row["detail"]
    )


def _audit(db: Connection, now: datetime, actor: str, action: str, detail: str) -> None:
    entry = {"at": _iso(now), "actor": actor, "action": action, "detail": detail}
    db.execute(insert(oncall_audit).values(cells(entry)))


def _add_override(
    db: Connection,
    user: str,
    start: datetime,
    end: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> int:
    row = {
        "user": user,
        "starts_at": _iso(start),
        "ends_at": _iso(end),
        "reason": reason,
        "created_by": actor,
        "created_at": _iso(now),
    }
    added = insert(oncall_overrides).values(cells(row)).returning(oncall_overrides.c.id)
    item: int = db.execute(added).scalar_one()
    _audit(db, now, actor, "override", f"{user} {_iso(start)}..{_iso(end)} ({reason})")
    return item


class OnCallStore(Repository):
    # On call -----------------------------------------------------------------------------

    def rotation(self) -> tuple[list[str], datetime] | None:
        """The stored rotation: members in order and the wall-clock anchor of the first week."""
        with self._connect() as db:
            row = db.execute(_ROTATION).first()
        if row is None:
            return None
        return json.loads(row.members), datetime.fromisoformat(row.anchor)

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
            db.execute(delete(oncall_rotation).where(oncall_rotation.c.id == 1))
            db.execute(insert(oncall_rotation).values(cells(row)))
            _audit(
                db, now, actor, "set", f"rotation {' '.join(members)} from {anchor:%Y-%m-%d %H:%M}"
            )

    def overrides(self, since: datetime) -> list[Override]:
        """Overrides still running or to come after `since`, oldest first."""
        with self._connect() as db:
            rows = _rows(db.execute(_OVERRIDES, {"since": _iso(since)}))
        return [_override(r) for r in rows]

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
        asked = insert(oncall_swaps).values(cells(row)).returning(oncall_swaps.c.id)
        with self._write() as db:
            swap: int = db.execute(asked).scalar_one()
            _audit(db, now, requester, "swap-request", f"S{swap} with {target}")
        return swap

    def swap(self, swap_id: int) -> Swap | None:
        with self._connect() as db:
            rows = _rows(db.execute(select(oncall_swaps).where(oncall_swaps.c.id == swap_id)))
        return _swap(rows[0]) if rows else None

    def decide_swap(self, swap_id: int, accepted: bool, *, actor: str, now: datetime) -> bool:
        """Accept (both overrides, at once) or decline a pending swap; False if not pending.
        The decision is one claim (UPDATE ... WHERE pending RETURNING): of two answers at
        once, one wins and the other changes nothing."""
        status = "accepted" if accepted else "declined"
        claim = (
            update(oncall_swaps)
            .where(oncall_swaps.c.id == swap_id, oncall_swaps.c.status == "pending")
            .values(status=status, decided_at=_iso(now))
            .returning(*oncall_swaps.c)
        )
        with self._write() as db:
            rows = _rows(db.execute(claim))
            if not rows:
                return False
            swap = _swap(rows[0])
            if accepted:
                reason = f"swap S{swap_id}"
                _add_override(db, swap.target, swap.give_start, swap.give_end, reason, actor, now)
                _add_override(
                    db, swap.requester, swap.take_start, swap.take_end, reason, actor, now
                )
            _audit(db, now, actor, f"swap-{status}", f"S{swap_id}")
        return True

    def audit(self, limit: int = 20) -> list[OnCallAuditEntry]:
        """The on-call audit trail, newest first."""
        query = select(oncall_audit).order_by(oncall_audit.c.id.desc()).limit(limit)
        with self._connect() as db:
            return [_audit_entry(r) for r in _rows(db.execute(query))]
