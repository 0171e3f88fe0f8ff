"""The outbox's statements that run for every command and every delivery, built once:
building one with SQLAlchemy costs more than running it (bot/store/sql.py, prebuilt)."""

from __future__ import annotations

from sqlalchemy import (
    Executable,
    Float,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from bot.store import queues
from bot.store.schema.work import outbox, slack_pace
from bot.store.sql import prebuilt, upsert

_MOMENT = bindparam("moment", type_=String)


@prebuilt
def TAKE_TOKEN(dialect: str) -> Executable:  # noqa: N802
    """One token from a channel's bucket: a row back when there was one."""
    full, rate = bindparam("full", type_=Float), bindparam("rate", type_=Float)
    take = upsert(dialect, slack_pace).values(
        channel=bindparam("channel"), tokens=full - 1, since=bindparam("since", type_=Float)
    )
    since = take.excluded.since
    grown = slack_pace.c.tokens + (since - slack_pace.c.since) * rate
    # min(full, grown) in words both engines know (SQLite's min(a, b) is least() on
    # PostgreSQL); a clock stepped back (since earlier than the row's) refills it.
    refilled = case((since < slack_pace.c.since, full), (grown < full, grown), else_=full)
    take = take.on_conflict_do_update(
        index_elements=["channel"],
        set_={"tokens": refilled - 1, "since": since},
        where=refilled >= 1,
    )
    # RETURNING, not rowcount: an upsert's rowcount is not reliable on every driver
    return take.returning(slack_pace.c.channel)  # type: ignore[no-any-return]


# A claim takes the row only if it is pending and free now (and, unless a fallback takes
# it, due), not merely when it was listed: another worker may have tried it in between and
# put it back with a later due time. One statement: on PostgreSQL a row another transaction
# just took is checked again against it.
#
# A try whose fate is unknown (its process died, or Slack's answer left it open) still has
# `inflight_until` set when the row is claimed again: its window, from its claim until its
# request could have landed, is added to `unsure`, where the next try looks for its post.
_TRIED = (
    func.coalesce(outbox.c.claimed_at, outbox.c.first_claimed_at, _MOMENT)
    + literal("/")
    + outbox.c.inflight_until
)
_TAKE = dict(
    owner=bindparam("claimer"),
    lease_until=bindparam("leased_until"),
    inflight_until=bindparam("lands_by"),
    claimed_at=_MOMENT,
    unsure=case(
        (
            outbox.c.inflight_until.is_not(None),
            func.coalesce(outbox.c.unsure + literal(" "), literal("")) + _TRIED,
        ),
        else_=outbox.c.unsure,
    ),
    first_claimed_at=func.coalesce(outbox.c.first_claimed_at, _MOMENT),
    attempts=outbox.c.attempts + 1,
)
_TAKEABLE = (
    outbox.c.id == bindparam("effect"),
    outbox.c.state == "pending",
    queues.free(outbox, _MOMENT),
    or_(bindparam("due_by", type_=String).is_(None), outbox.c.due_at <= bindparam("due_by")),
)
# In its turn: no row of its lane before it still waits, and none is on its way. The listing
# said so, but on PostgreSQL ids are handed out before commit: a row with a lower id can
# become visible after a later one was listed and taken.
_other = outbox.alias("other")
_IN_TURN = ~(
    select(_other.c.id)
    .where(
        _other.c.lane == outbox.c.lane,
        _other.c.state == "pending",
        _other.c.id != outbox.c.id,
        (_other.c.id < outbox.c.id) | ~queues.free(_other, _MOMENT),
    )
    .exists()
)
CLAIM = update(outbox).where(*_TAKEABLE).values(**_TAKE).returning(outbox)  # out of turn
CLAIM_IN_TURN = update(outbox).where(*_TAKEABLE, _IN_TURN).values(**_TAKE).returning(outbox)
# On PostgreSQL, before CLAIM_IN_TURN: two workers claiming rows of one lane at once would
# each see the other's row as free; this lock on the lane, until the claim commits, makes
# the second look after the first has taken its row.
LOCK_LANE = select(func.pg_advisory_xact_lock(func.hashtext(outbox.c.lane))).where(
    outbox.c.id == bindparam("effect")
)
DONE = (
    update(outbox)
    .where(outbox.c.id == bindparam("effect"), outbox.c.owner == bindparam("holder"))
    .values(
        state="done",
        finished_at=bindparam("finished"),
        result=bindparam("outcome"),
        owner=None,
        lease_until=None,
    )
)


# Built once: commands owe rows inside their transaction, where building one costs time.
ENQUEUE = insert(outbox).returning(outbox.c.id)
_WAITING = select(outbox.c.id).where(
    outbox.c.state == "pending", outbox.c.kind == bindparam("kind"), outbox.c.owner.is_(None)
)
WAITING_FOR_INCIDENT = _WAITING.where(outbox.c.incident_id == bindparam("incident")).limit(1)
WAITING_ON_LANE = _WAITING.where(outbox.c.lane == bindparam("lane")).limit(1)
# A worker's listing of the lanes' heads (bot/outbox.py lists again every LISTING_KEPT).
_LANES = (
    select(
        outbox.c.lane,
        func.min(outbox.c.id).label("head"),
        func.max(outbox.c.priority).label("urgency"),
    )
    .where(outbox.c.state == "pending")
    .group_by(outbox.c.lane)
    .subquery("h")
)
_READY = and_(outbox.c.due_at <= _MOMENT, queues.free(outbox, _MOMENT))
HEADS = (
    select(outbox.c.id, outbox.c.lane, outbox.c.kind, _LANES.c.urgency, _READY.label("ready"))
    .join(_LANES, outbox.c.id == _LANES.c.head)
    .order_by(_LANES.c.urgency.desc(), _READY.desc(), outbox.c.id)
    .limit(bindparam("limit"))
)
