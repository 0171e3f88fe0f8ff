"""The outbox (effects owed to the outside world) and the inbox (Slack events to process).

Both are tables of rows that a process *claims*: it sets itself as owner with a lease, does
the work, and marks the row. A process that dies mid-way leaves a lease that runs out, and
the row is claimed again, by this process after a restart or by another one.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.redact import redact_all
from bot.store.base import PRUNE_ODDS, StoreBase, _iso, _parse, _query, now_utc

KEEP_FINISHED = timedelta(days=7)  # delivered rows, for `opsbot outbox` and de-duplication


@dataclass(frozen=True)
class Effect:
    id: int
    kind: str
    lane: str
    payload: dict[str, Any]
    incident: int | None
    state: str
    created_at: datetime
    due_at: datetime
    attempts: int  # claims so far, this one included: more than 1 means an earlier try's fate
    first_failed_at: datetime | None  # is unknown or it failed
    last_error: str | None
    result: dict[str, Any] | None


def _effect(row: dict[str, Any]) -> Effect:
    created, due = _parse(row["created_at"]), _parse(row["due_at"])
    assert created is not None and due is not None
    return Effect(
        id=row["id"],
        kind=row["kind"],
        lane=row["lane"],
        payload=json.loads(row["payload"]),
        incident=row["incident_id"],
        state=row["state"],
        created_at=created,
        due_at=due,
        attempts=row["attempts"],
        first_failed_at=_parse(row["first_failed_at"]),
        last_error=row["last_error"],
        result=json.loads(row["result"]) if row["result"] else None,
    )


@dataclass(frozen=True)
class InboxEvent:
    id: int
    event_id: str
    body: str
    attempts: int


class OutboxStore(StoreBase):
    # Writing effects ---------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        lane: str,
        payload: dict[str, Any],
        *,
        incident: int | None = None,
        coalesce: bool = False,
    ) -> int | None:
        """Owe one effect; call it inside the transaction of the change that owes it. Its
        times are wall-clock times (Slack's message times are), whatever the bot's clock.
        With `coalesce`, a row of the same kind for the same incident (or, without one, on the
        same lane) that is waiting and not yet claimed already covers it (it renders the state
        at delivery): None is returned."""
        with self._write() as db:
            if coalesce:
                same = "incident_id = ?" if incident is not None else "lane = ?"
                waiting = db.execute(
                    f"SELECT id FROM outbox WHERE state = 'pending' AND {same} "
                    "AND kind = ? AND owner IS NULL LIMIT 1",
                    [incident if incident is not None else lane, kind],
                ).fetchone()
                if waiting:
                    return None
            now = now_utc()
            cursor = db.execute(
                "INSERT INTO outbox (kind, lane, payload, incident_id, created_at, due_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [kind, lane, json.dumps(redact_all(payload)), incident, _iso(now), _iso(now)],
            )
            self._local.enqueued = True
            return cursor.lastrowid

    # Delivering them ---------------------------------------------------------------------

    def claimable(self, now: datetime, limit: int = 50) -> list[Effect]:
        """The head row of every lane, when it is due and nobody holds a live lease on it."""
        sql = """
            SELECT o.* FROM outbox o
            JOIN (SELECT lane, min(id) AS head FROM outbox WHERE state = 'pending'
                  GROUP BY lane) h ON o.id = h.head
            WHERE o.due_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
            ORDER BY o.id LIMIT ?"""
        moment = _iso(now)
        with self._connect() as db:
            return [_effect(row) for row in _query(db, sql, [moment, moment, limit])]

    def claim(self, effect_id: int, owner: str, now: datetime, lease: timedelta) -> Effect | None:
        """Take one row for `lease`; None when another process took it first."""
        with self._write() as db:
            # Due, pending and free now, not merely when it was listed: another worker may
            # have tried it in between and put it back with a later due time.
            cursor = db.execute(
                "UPDATE outbox SET owner = ?, lease_until = ?, attempts = attempts + 1 "
                "WHERE id = ? AND state = 'pending' AND due_at <= ? "
                "AND (lease_until IS NULL OR lease_until < ?)",
                [owner, _iso(now + lease), effect_id, _iso(now), _iso(now)],
            )
            if cursor.rowcount != 1:
                return None
            rows = _query(db, "SELECT * FROM outbox WHERE id = ?", [effect_id])
        return _effect(rows[0])

    def delivered(
        self, effect_id: int, owner: str, now: datetime, result: dict[str, Any] | None = None
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET state = 'done', finished_at = ?, result = ?, owner = NULL, "
                "lease_until = NULL WHERE id = ? AND owner = ?",
                [_iso(now), json.dumps(result) if result else None, effect_id, owner],
            )
            if random.random() < PRUNE_ODDS:  # now and then: it scans the finished rows
                db.execute(
                    "DELETE FROM outbox WHERE state != 'pending' AND finished_at < ?",
                    [_iso(now - KEEP_FINISHED)],
                )

    def retry_at(
        self, effect_id: int, owner: str, due: datetime, error: str, now: datetime
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET due_at = ?, last_error = ?, owner = NULL, lease_until = NULL, "
                "first_failed_at = coalesce(first_failed_at, ?) WHERE id = ? AND owner = ?",
                [_iso(due), error, _iso(now), effect_id, owner],
            )

    def bury(
        self, effect_id: int, owner: str, error: str, now: datetime, state: str = "dead"
    ) -> None:
        """Give up on a row: `dead` (nobody got it; someone is told) or `fell_back`."""
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET state = ?, last_error = ?, finished_at = ?, owner = NULL, "
                "lease_until = NULL, first_failed_at = coalesce(first_failed_at, ?) "
                "WHERE id = ? AND owner = ?",
                [state, error, _iso(now), _iso(now), effect_id, owner],
            )

    # Looking at them ---------------------------------------------------------------------

    def effect(self, effect_id: int) -> Effect | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM outbox WHERE id = ?", [effect_id])
        return _effect(rows[0]) if rows else None

    def effects(self, states: tuple[str, ...], limit: int = 100) -> list[Effect]:
        marks = ", ".join("?" for _ in states)
        sql = f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY id LIMIT ?"
        with self._connect() as db:
            return [_effect(row) for row in _query(db, sql, [*states, limit])]

    def has_pending(self, incident: int, kind: str) -> bool:
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM outbox WHERE state = 'pending' AND incident_id = ? AND kind = ?",
                [incident, kind],
            ).fetchone()
        return row is not None

    def outbox_summary(self, now: datetime) -> dict[str, Any]:
        """Backlog, the oldest waiting row's age in seconds, and how many rows are dead."""
        with self._connect() as db:
            pending, oldest = db.execute(
                "SELECT count(*), min(created_at) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            (dead,) = db.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()
        since = _parse(oldest)
        age = round((now - since).total_seconds(), 1) if since else 0.0
        return {"pending": pending, "oldest_seconds": max(age, 0.0), "dead": dead}

    def retry_effect(self, effect_id: int, now: datetime) -> bool:
        """Put a dead (or waiting) row back in line, due now."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = 'pending', due_at = ?, first_failed_at = NULL, "
                "finished_at = NULL, owner = NULL, lease_until = NULL "
                "WHERE id = ? AND state IN ('pending', 'dead')",
                [_iso(now), effect_id],
            )
            if cursor.rowcount == 1:
                self._local.enqueued = True
            return cursor.rowcount == 1

    def drop_effect(self, effect_id: int, now: datetime) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = 'dropped', finished_at = ?, owner = NULL, "
                "lease_until = NULL WHERE id = ? AND state IN ('pending', 'dead')",
                [_iso(now), effect_id],
            )
            return cursor.rowcount == 1

    def lease_owners(self) -> list[str]:
        """Owners holding a lease on an outbox or inbox row."""
        sql = (
            "SELECT owner FROM outbox WHERE owner IS NOT NULL UNION "
            "SELECT owner FROM inbox WHERE owner IS NOT NULL"
        )
        with self._connect() as db:
            return [row[0] for row in db.execute(sql).fetchall()]

    def release_owner(self, owner: str) -> int:
        """Free the rows of an owner known to be gone."""
        with self._write() as db:
            released = 0
            for table in ("outbox", "inbox"):
                cursor = db.execute(
                    f"UPDATE {table} SET owner = NULL, lease_until = NULL WHERE owner = ?", [owner]
                )
                released += cursor.rowcount
            if released:  # never clears a flag set earlier in the same transaction
                self._local.enqueued = True
            return released

    # The inbox ---------------------------------------------------------------------------

    def receive(self, event_id: str, body: str, now: datetime) -> bool:
        """Store an Events API delivery; False when this event_id was stored before (a retry)."""
        with self._write() as db:
            if random.random() < PRUNE_ODDS:
                db.execute(
                    "DELETE FROM inbox WHERE state = 'done' AND received_at < ?",
                    [_iso(now - timedelta(days=1))],
                )
            cursor = db.execute(
                "INSERT OR IGNORE INTO inbox (event_id, body, received_at) VALUES (?, ?, ?)",
                [event_id, body, _iso(now)],
            )
            stored = cursor.rowcount == 1
        if stored and self.on_receive is not None:
            self.on_receive()
        return stored

    def claim_inbox(self, owner: str, now: datetime, lease: timedelta) -> InboxEvent | None:
        with self._write() as db:
            rows = _query(
                db,
                "SELECT id, event_id, body, attempts FROM inbox WHERE state = 'pending' "
                "AND (lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT 1",
                [_iso(now)],
            )
            if not rows:
                return None
            db.execute(
                "UPDATE inbox SET owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                [owner, _iso(now + lease), rows[0]["id"]],
            )
        row = rows[0]
        return InboxEvent(row["id"], row["event_id"], row["body"], row["attempts"] + 1)

    def inbox_done(self, row_id: int, owner: str, error: str | None = None) -> None:
        """Processed (or, with an error, given up on after too many tries)."""
        with self._write() as db:
            db.execute(
                "UPDATE inbox SET state = ?, last_error = ?, owner = NULL, lease_until = NULL "
                "WHERE id = ? AND owner = ?",
                ["failed" if error else "done", error, row_id, owner],
            )

    def inbox_pending(self) -> int:
        with self._connect() as db:
            (count,) = db.execute("SELECT count(*) FROM inbox WHERE state = 'pending'").fetchone()
        return int(count)
