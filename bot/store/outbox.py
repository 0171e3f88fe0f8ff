"""The outbox: effects owed to the outside world (Slack, third parties), claimed and
delivered one row at a time per lane (bot/store/queues.py says how a row is claimed).

A row ends `done`; `dead` when it kept failing past the give-up time; `refused` when the
other side said no for good (Slack's `invalid_blocks`, `channel_not_found`, an HTTP 4xx);
`fell_back` when its kind's fallback replaced it; `dropped` when there was nothing left to do
(an update of a message someone deleted) or an operator gave up on it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.redact import redact_all
from bot.store.base import PRUNE_ODDS, _iso, _parse, _query, _sql, now_utc
from bot.store.queues import QueueStore

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
    priority: int = 0
    first_claimed_at: datetime | None = None  # no earlier try can have reached Slack before


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
        priority=row["priority"],
        first_claimed_at=_parse(row["first_claimed_at"]),
    )


class OutboxStore(QueueStore):
    # Writing effects ---------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        lane: str,
        payload: dict[str, Any],
        *,
        incident: int | None = None,
        coalesce: bool = False,
        priority: int = 0,
    ) -> int | None:
        """Owe one effect; call it inside the transaction of the change that owes it. Its
        times are wall-clock times (Slack's message times are), whatever the bot's clock.
        With `coalesce`, a row of the same kind for the same incident (or, without one, on the
        same lane) that is waiting and not yet claimed already covers it (it renders the state
        at delivery): None is returned. A higher `priority` goes before other rows of its
        channel (pages)."""
        with self._write() as db:
            if coalesce:
                same = "incident_id = ?" if incident is not None else "lane = ?"
                waiting = _sql(
                    db,
                    f"SELECT id FROM outbox WHERE state = 'pending' AND {same} "
                    "AND kind = ? AND owner IS NULL LIMIT 1",
                    [incident if incident is not None else lane, kind],
                ).fetchone()
                if waiting:
                    return None
            now = now_utc()
            cursor = _sql(
                db,
                "INSERT INTO outbox (kind, lane, payload, incident_id, created_at, due_at, "
                "priority) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    kind,
                    lane,
                    json.dumps(redact_all(payload)),
                    incident,
                    _iso(now),
                    _iso(now),
                    priority,
                ],
            )
            self._local.enqueued = True
            return cursor.lastrowid

    # Delivering them ---------------------------------------------------------------------

    def claimable(self, now: datetime, limit: int = 50) -> list[Effect]:
        """The head row of every lane, when it is due and nobody holds a live lease on it;
        first the lanes holding an urgent row (a page: what is ahead of it in its lane goes
        first too, keeping the lane's order), then in commit order."""
        sql = """
            SELECT o.* FROM outbox o
            JOIN (SELECT lane, min(id) AS head, max(priority) AS urgency FROM outbox
                  WHERE state = 'pending' GROUP BY lane) h ON o.id = h.head
            WHERE o.due_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
            ORDER BY h.urgency DESC, o.id LIMIT ?"""
        moment = _iso(now)
        with self._connect() as db:
            return [_effect(row) for row in _query(db, sql, [moment, moment, limit])]

    def urgent_lanes(self) -> set[str]:
        """Lanes holding a waiting urgent row (a page)."""
        sql = "SELECT DISTINCT lane FROM outbox WHERE state = 'pending' AND priority > 0"
        with self._connect() as db:
            return {row[0] for row in _sql(db, sql).fetchall()}

    def overdue(self, kinds: tuple[str, ...], owed_before: datetime, now: datetime) -> list[Effect]:
        """Rows of `kinds` still waiting though they were owed before `owed_before`, wherever
        they stand in their lane and whatever their retry time: pages late enough to fall
        back."""
        if not kinds:
            return []
        marks = ", ".join("?" for _ in kinds)
        sql = (
            f"SELECT * FROM outbox WHERE state = 'pending' AND kind IN ({marks}) "
            "AND created_at < ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT 20"
        )
        with self._connect() as db:
            rows = _query(db, sql, [*kinds, _iso(owed_before), _iso(now)])
        return [_effect(row) for row in rows]

    def take_pace(self, channel: str, now: float, per_second: float, burst: int) -> float:
        """Take one post from `channel`'s token bucket at `now` (epoch seconds): 0.0 when
        taken, else the seconds until the next token. One statement, so processes sharing
        the database share the bucket. A clock stepped back starts the bucket full rather
        than holding posts until it has caught up."""
        refilled = (
            "(CASE WHEN excluded.since < slack_pace.since THEN ? "
            "ELSE min(?, slack_pace.tokens + (excluded.since - slack_pace.since) * ?) END)"
        )
        bucket = [burst, burst, per_second]
        with self._write() as db:
            cursor = _sql(
                db,
                "INSERT INTO slack_pace (channel, tokens, since) VALUES (?, ?, ?) "
                f"ON CONFLICT (channel) DO UPDATE SET tokens = {refilled} - 1, "
                f"since = excluded.since WHERE {refilled} >= 1",
                [channel, burst - 1, now, *bucket, *bucket],
            )
            if cursor.rowcount == 1:
                return 0.0
            bucket_row = _sql(
                db, "SELECT tokens, since FROM slack_pace WHERE channel = ?", [channel]
            ).one()
            tokens, since = tuple(bucket_row)
        available = min(float(burst), float(tokens) + max(0.0, now - float(since)) * per_second)
        return max((1 - available) / per_second, 0.001)

    def claim(
        self,
        effect_id: int,
        owner: str,
        now: datetime,
        lease: timedelta,
        inflight: timedelta = timedelta(0),
        *,
        due_only: bool = True,
    ) -> Effect | None:
        """Take one row for `lease`; None when another process took it first. A request
        this claim makes may still land at Slack `inflight` after it (the call's timeout)."""
        due = "AND due_at <= ? " if due_only else ""
        with self._write() as db:
            # Due, pending and free now, not merely when it was listed: another worker may
            # have tried it in between and put it back with a later due time.
            rows = _query(
                db,
                "UPDATE outbox SET owner = ?, lease_until = ?, inflight_until = ?, "
                "first_claimed_at = coalesce(first_claimed_at, ?), "
                "attempts = attempts + 1 WHERE id = ? AND state = 'pending' "
                f"{due}AND (lease_until IS NULL OR lease_until < ?) RETURNING *",
                [
                    owner,
                    _iso(now + lease),
                    _iso(now + inflight),
                    _iso(now),
                    effect_id,
                    *([_iso(now)] if due_only else []),
                    _iso(now),
                ],
            )
        return _effect(rows[0]) if rows else None

    def delivered(
        self, effect_id: int, owner: str, now: datetime, result: dict[str, Any] | None = None
    ) -> None:
        with self._write() as db:
            _sql(
                db,
                "UPDATE outbox SET state = 'done', finished_at = ?, result = ?, owner = NULL, "
                "lease_until = NULL WHERE id = ? AND owner = ?",
                [_iso(now), json.dumps(result) if result else None, effect_id, owner],
            )
            if random.random() < PRUNE_ODDS:  # now and then: it scans the finished rows
                _sql(
                    db,
                    "DELETE FROM outbox WHERE state != 'pending' AND finished_at < ?",
                    [_iso(now - KEEP_FINISHED)],
                )

    def retry_at(
        self, effect_id: int, owner: str, due: datetime, error: str, now: datetime
    ) -> None:
        with self._write() as db:
            _sql(
                db,
                "UPDATE outbox SET due_at = ?, last_error = ?, owner = NULL, lease_until = NULL, "
                "first_failed_at = coalesce(first_failed_at, ?) WHERE id = ? AND owner = ?",
                [_iso(due), error, _iso(now), effect_id, owner],
            )

    def bury(
        self, effect_id: int, owner: str, error: str, now: datetime, state: str = "dead"
    ) -> None:
        """Finish a row that was not delivered: `dead`, `refused`, `fell_back` or `dropped`."""
        with self._write() as db:
            _sql(
                db,
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
            row = _sql(
                db,
                "SELECT 1 FROM outbox WHERE state = 'pending' AND incident_id = ? AND kind = ?",
                [incident, kind],
            ).fetchone()
        return row is not None

    def latest_effect(self, incident: int, kind: str) -> Effect | None:
        """The newest row of `kind` owed for `incident`, whatever became of it."""
        sql = "SELECT * FROM outbox WHERE incident_id = ? AND kind = ? ORDER BY id DESC LIMIT 1"
        with self._connect() as db:
            rows = _query(db, sql, [incident, kind])
        return _effect(rows[0]) if rows else None

    def outbox_summary(self, now: datetime) -> dict[str, Any]:
        """Backlog, the oldest waiting row's age in seconds, and how many rows were given up
        on (dead or refused)."""
        return self._backlog("outbox", "created_at", now).as_dict()

    def retry_effect(self, effect_id: int, now: datetime) -> bool:
        """Put a given-up (or waiting) row back in line, due now."""
        with self._write() as db:
            cursor = _sql(
                db,
                "UPDATE outbox SET state = 'pending', due_at = ?, first_failed_at = NULL, "
                "finished_at = NULL, owner = NULL, lease_until = NULL "
                "WHERE id = ? AND state IN ('pending', 'dead', 'refused')",
                [_iso(now), effect_id],
            )
            if cursor.rowcount == 1:
                self._local.enqueued = True
            return cursor.rowcount == 1

    def drop_effect(self, effect_id: int, now: datetime) -> bool:
        with self._write() as db:
            cursor = _sql(
                db,
                "UPDATE outbox SET state = 'dropped', finished_at = ?, owner = NULL, "
                "lease_until = NULL WHERE id = ? AND state IN ('pending', 'dead', 'refused')",
                [_iso(now), effect_id],
            )
            return cursor.rowcount == 1

    def lease_owners(self) -> list[str]:
        """Owners holding a lease on an outbox or inbox row, or running a job."""
        sql = (
            "SELECT owner FROM outbox WHERE owner IS NOT NULL UNION "
            "SELECT owner FROM inbox WHERE owner IS NOT NULL UNION "
            "SELECT owner FROM job_runs WHERE owner IS NOT NULL AND status = 'running'"
        )
        with self._connect() as db:
            return [row[0] for row in _sql(db, sql).fetchall()]

    def release_owner(self, owner: str) -> int:
        """Free the rows of an owner known to be gone. A request its last claim made may
        still land at Slack: the row is tried again once it would have landed, so the next
        try finds it instead of posting twice (as after a timeout)."""
        with self._write() as db:
            released = _sql(
                db,
                "UPDATE outbox SET owner = NULL, lease_until = NULL, "
                "due_at = max(due_at, coalesce(inflight_until, due_at)) WHERE owner = ?",
                [owner],
            ).rowcount
            released += _sql(
                db, "UPDATE inbox SET owner = NULL, lease_until = NULL WHERE owner = ?", [owner]
            ).rowcount
            if released:  # never clears a flag set earlier in the same transaction
                self._local.enqueued = True
            return released
