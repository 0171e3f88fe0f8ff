"""The fence: what a write made as leader checks first, inside its own transaction.

Several `opsbot serve` may share one PostgreSQL database; the one holding the lease in
`leader_lease` leads (leases.py). A leader can be paused (SIGSTOP, a long GC, a network
partition) and wake after a standby took the lease. So the work only a leader does (the
scheduler's jobs, the timers, crash recovery) runs `fenced(...)`: every write transaction it
opens first reads the lease, and goes on only while the lease still names this holder and
token and has not run out by the database's clock. On PostgreSQL that read takes a key-share
lock on the lease row: the lease cannot change hands before the write commits (a takeover
first locks the row FOR UPDATE, leases.py), while the leader's own renewal, an update of
the row's time alone, never waits for it. On SQLite the write already holds the file's
write lock. Otherwise NotLeading, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    Float,
    bindparam,
    cast,
    func,
    literal,
    select,
)

from bot.store.schema.work import leader_lease
from bot.store.sql import prebuilt


@dataclass(frozen=True)
class Fence:
    """A leader's claim: who holds the lease, under which token."""

    holder: str
    token: int


class NotLeading(Exception):
    """A write made as leader by a process that no longer holds the lease; nothing was
    written."""


# The fence of the work running on this thread, if it runs as leader.
_CURRENT: ContextVar[Fence | None] = ContextVar("opsbot_fence", default=None)


@contextmanager
def fenced(fence: Fence) -> Iterator[None]:
    """Run the block as leader under `fence`: each write it opens checks the lease first."""
    reset = _CURRENT.set(fence)
    try:
        yield
    finally:
        _CURRENT.reset(reset)


def current() -> Fence | None:
    return _CURRENT.get()


def clock(dialect: str) -> ColumnElement[float]:
    """The database's clock in epoch seconds: one clock for every process sharing the
    database, whatever their hosts' clocks say."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", func.clock_timestamp()), Float)
    return (func.julianday("now") - literal(2440587.5)) * literal(86400.0)


@prebuilt
def _HELD(dialect: str) -> Executable:  # noqa: N802
    query = select(leader_lease.c.token).where(
        leader_lease.c.id == 1,
        leader_lease.c.holder == bindparam("holder"),
        leader_lease.c.token == bindparam("token"),
        leader_lease.c.expires_at > clock(dialect),
    )
    # FOR KEY SHARE on PostgreSQL (nothing on SQLite): held against a takeover's FOR UPDATE,
    # not against a renewal
    return query.with_for_update(read=True, key_share=True)


def check(conn: Connection) -> None:
    """In a write transaction that has just begun: when this thread works as leader, the
    lease must still be its own (NotLeading otherwise)."""
    fence = _CURRENT.get()
    if fence is None:
        return
    held = conn.execute(_HELD(conn), {"holder": fence.holder, "token": fence.token}).first()
    if held is None:
        raise NotLeading(f"the lease is no longer {fence.holder}'s (token {fence.token})")
