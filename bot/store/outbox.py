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
from typing import Any, NamedTuple

from sqlalchemy import (
    case,
    delete,
    func,
    select,
    union,
    update,
)

from bot.redact import redact_all
from bot.store import outbox_sql, queues
from bot.store.base import PRUNE_ODDS
from bot.store.queues import QueueStore
from bot.store.schema.work import inbox, job_runs, job_ticks, outbox, slack_pace
from bot.store.sql import _iso, _parse, _rows, now_utc

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
    # Earlier tries that may have reached Slack (cut short, or Slack's answer left it open):
    # from each one's claim until its request could have landed. Empty: none can have.
    unsure: tuple[tuple[datetime, datetime], ...] = ()


class Head(NamedTuple):  # a worker lists a hundred at a time: a tuple is made fastest
    """The first waiting row of a lane."""

    id: int
    lane: str
    kind: str
    urgent: bool  # its lane holds a page
    ready: bool  # due, and nobody holds a live lease on it


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
        unsure=_windows(row["unsure"]),
    )


def _windows(text: str | None) -> tuple[tuple[datetime, datetime], ...]:
    found = []
    for window in (text or "").split():
        start, _, until = window.partition("/")
        began, ended = _parse(start), _parse(until)
        if began is not None and ended is not None:
            found.append((began, ended))
    return tuple(found)


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
                waiting = (
                    outbox_sql.WAITING_FOR_INCIDENT
                    if incident is not None
                    else outbox_sql.WAITING_ON_LANE
                )
                found = db.execute(waiting, {"incident": incident, "lane": lane, "kind": kind})
                if found.first() is not None:
                    return None
            now = _iso(now_utc())
            row = {
                "kind": kind,
                "lane": lane,
                "payload": json.dumps(redact_all(payload)),
                "incident_id": incident,
                "created_at": now,
                "due_at": now,
                "priority": priority,
            }
            made: int = db.execute(outbox_sql.ENQUEUE, row).scalar_one()
            self.db.owe()
            return made

    # Delivering them ---------------------------------------------------------------------

    def heads(self, now: datetime, limit: int = 100) -> list[Head]:
        """The head row of every lane holding waiting rows: first the lanes holding an urgent
        row (a page: what is ahead of it in its lane goes first too, keeping the lane's
        order), then those due and free before the others, then in commit order. Only what
        a worker needs to choose a row: the claim reads the rest."""
        with self._connect() as db:
            rows = db.execute(outbox_sql.HEADS, {"moment": _iso(now), "limit": limit}).all()
        return [Head(r.id, r.lane, r.kind, bool(r.urgency), bool(r.ready)) for r in rows]

    def claimable(self, now: datetime, limit: int = 50) -> list[Head]:
        """The heads a worker may claim at `now`, in the order it tries them."""
        return [head for head in self.heads(now, limit) if head.ready]

    def overdue(self, kinds: tuple[str, ...], owed_before: datetime, now: datetime) -> list[Effect]:
        """Rows of `kinds` still waiting though they were owed before `owed_before`, wherever
        they stand in their lane and whatever their retry time: pages late enough to fall
        back."""
        if not kinds:
            return []
        query = (
            select(outbox)
            .where(
                outbox.c.state == "pending",
                outbox.c.kind.in_(kinds),
                outbox.c.created_at < _iso(owed_before),
                queues.free(outbox, _iso(now)),
            )
            .order_by(outbox.c.id)
            .limit(20)
        )
        with self._connect() as db:
            return [_effect(row) for row in _rows(db.execute(query))]

    def take_pace(self, channel: str, now: float, per_second: float, burst: int) -> float:
        """Take one post from `channel`'s token bucket at `now` (epoch seconds): 0.0 when
        taken, else the seconds until the next token. One statement, so processes sharing
        the database share the bucket. A clock stepped back starts the bucket full rather
        than holding posts until it has caught up."""
        full = float(burst)
        with self._write() as db:
            taking = {"channel": channel, "full": full, "since": now, "rate": per_second}
            if db.execute(outbox_sql.TAKE_TOKEN(db), taking).first() is not None:
                return 0.0
            bucket = select(slack_pace.c.tokens, slack_pace.c.since)
            tokens, since_then = db.execute(bucket.where(slack_pace.c.channel == channel)).one()
        available = min(full, float(tokens) + max(0.0, now - float(since_then)) * per_second)
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
        """Take one row for `lease`, in its lane's turn (with `due_only=False`, a fallback's
        claim: due or not, in turn or not); None when another process took it first or it
        is not its turn. A request this claim makes may still land at Slack `inflight`
        after it (the call's timeout)."""
        moment = _iso(now)
        taking = {
            "effect": effect_id,
            "moment": moment,
            "due_by": moment if due_only else None,
            "claimer": owner,
            "leased_until": _iso(now + lease),
            "lands_by": _iso(now + inflight),
        }
        with self._write() as db:
            if not due_only:  # a fallback: whatever stands before it in its lane
                rows = _rows(db.execute(outbox_sql.CLAIM, taking))
                return _effect(rows[0]) if rows else None
            if not self.sqlite:  # SQLite's writers take turns already
                db.execute(outbox_sql.LOCK_LANE, {"effect": effect_id})
            rows = _rows(db.execute(outbox_sql.CLAIM_IN_TURN, taking))
        return _effect(rows[0]) if rows else None

    def delivered(
        self, effect_id: int, owner: str, now: datetime, result: dict[str, Any] | None = None
    ) -> None:
        done = {
            "effect": effect_id,
            "holder": owner,
            "finished": _iso(now),
            "outcome": json.dumps(result) if result else None,
        }
        with self._write() as db:
            db.execute(outbox_sql.DONE, done)
            if random.random() < PRUNE_ODDS:  # now and then: it scans the finished rows
                db.execute(
                    delete(outbox).where(
                        outbox.c.state != "pending",
                        outbox.c.finished_at < _iso(now - KEEP_FINISHED),
                    )
                )

    def retry_at(
        self,
        effect_id: int,
        owner: str,
        due: datetime,
        error: str,
        now: datetime,
        *,
        may_have_landed: bool = True,
    ) -> None:
        """Try the row again at `due`. Unless this try `may_have_landed` (Slack's answer left
        it open), the next one knows this one posted nothing and need not look for it."""
        landed = {} if may_have_landed else {"inflight_until": None}
        with self._write() as db:
            queues.put_back(db, outbox, effect_id, owner, due, error, now, **landed)

    def bury(
        self, effect_id: int, owner: str, error: str, now: datetime, state: str = "dead"
    ) -> None:
        """Finish a row that was not delivered: `dead`, `refused`, `fell_back` or `dropped`."""
        with self._write() as db:
            queues.bury(db, outbox, effect_id, owner, error, now, state)

    # Looking at them ---------------------------------------------------------------------

    def effect(self, effect_id: int) -> Effect | None:
        with self._connect() as db:
            rows = _rows(db.execute(select(outbox).where(outbox.c.id == effect_id)))
        return _effect(rows[0]) if rows else None

    def effects(self, states: tuple[str, ...], limit: int = 100) -> list[Effect]:
        query = select(outbox).where(outbox.c.state.in_(states)).order_by(outbox.c.id)
        with self._connect() as db:
            return [_effect(row) for row in _rows(db.execute(query.limit(limit)))]

    def has_pending(self, incident: int, kind: str) -> bool:
        query = select(outbox.c.id).where(
            outbox.c.state == "pending", outbox.c.incident_id == incident, outbox.c.kind == kind
        )
        with self._connect() as db:
            return db.execute(query.limit(1)).first() is not None

    def latest_effect(self, incident: int, kind: str) -> Effect | None:
        """The newest row of `kind` owed for `incident`, whatever became of it."""
        query = (
            select(outbox)
            .where(outbox.c.incident_id == incident, outbox.c.kind == kind)
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return _effect(rows[0]) if rows else None

    def outbox_summary(self, now: datetime) -> dict[str, Any]:
        """Backlog, the oldest waiting row's age in seconds, and how many rows were given up
        on (dead or refused)."""
        return self._backlog(outbox, "created_at", now).as_dict()

    def retry_effect(self, effect_id: int, now: datetime) -> bool:
        """Put a given-up (or waiting) row back in line, due now."""
        with self._write() as db:
            again = queues.retry(db, outbox, effect_id, now)
            if again:
                self.db.owe()
            return again

    def drop_effect(self, effect_id: int, now: datetime) -> bool:
        with self._write() as db:
            return queues.drop(db, outbox, effect_id, now)

    def lease_owners(self) -> list[str]:
        """Owners holding a lease on an outbox or inbox row, running a job, or holding an
        interval job's tick."""
        query = union(
            select(outbox.c.owner).where(outbox.c.owner.is_not(None)),
            select(inbox.c.owner).where(inbox.c.owner.is_not(None)),
            select(job_runs.c.owner).where(
                job_runs.c.owner.is_not(None), job_runs.c.status == "running"
            ),
            select(job_ticks.c.owner),
        )
        with self._connect() as db:
            return list(db.execute(query).scalars())

    def release_owner(self, owner: str) -> int:
        """Free the rows of an owner known to be gone. A request its last claim made may
        still land at Slack: the row is tried again once it would have landed, so the next
        try finds it instead of posting twice (as after a timeout)."""
        landed = func.coalesce(outbox.c.inflight_until, outbox.c.due_at)
        later = case((landed > outbox.c.due_at, landed), else_=outbox.c.due_at)

        def held(table: Any) -> Any:  # a row another process is claiming now is its already
            return (
                select(table.c.id).where(table.c.owner == owner).with_for_update(skip_locked=True)
            )

        with self._write() as db:
            released = db.execute(
                update(outbox)
                .where(outbox.c.id.in_(held(outbox)))
                .values(owner=None, lease_until=None, due_at=later)
            ).rowcount
            released += db.execute(
                update(inbox)
                .where(inbox.c.id.in_(held(inbox)))
                .values(owner=None, lease_until=None)
            ).rowcount
            if released:  # never clears a flag set earlier in the same transaction
                self.db.owe()
            return released
