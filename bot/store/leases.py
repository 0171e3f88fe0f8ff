"""The leader's lease: which of the processes sharing this database leads, under which
token, until when (one row of `leader_lease`, times by the database's clock; fence.py says
how a leader's writes check it).

Each change of hands is one UPDATE that adds one to the token, so two processes can never
both take it, and a leader that lost it cannot renew it. On PostgreSQL a takeover first
locks the row FOR UPDATE, so it waits for every write the old leader has under way (each
holds the row FOR KEY SHARE: fence.py); a renewal does not, so it never waits for them.
A process whose code is older than the database's schema (a newer opsbot upgraded it)
neither takes nor keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    bindparam,
    column,
    select,
    table,
    update,
)

from bot.store.base import Repository
from bot.store.fence import Fence, clock
from bot.store.schema.work import leader_lease
from bot.store.sql import prebuilt

_VERSION = table("alembic_version", column("version_num"))


@dataclass(frozen=True)
class Lease:
    """The lease as read, with the database's clock at the time (`now`)."""

    holder: str
    token: int
    acquired_at: float | None
    expires_at: float | None
    now: float

    @property
    def held(self) -> bool:
        """Someone holds it and it has not run out."""
        return bool(self.holder) and (self.expires_at or 0.0) > self.now

    @property
    def held_for(self) -> float | None:
        """Seconds since its holder took it."""
        return None if self.acquired_at is None else max(0.0, self.now - self.acquired_at)

    @property
    def left(self) -> float:
        """Seconds before it runs out unless renewed (0 when it has)."""
        return max(0.0, (self.expires_at or 0.0) - self.now)


@prebuilt
def _READ(dialect: str) -> Executable:  # noqa: N802
    lease = leader_lease.c
    now = clock(dialect).label("now")
    return select(lease.holder, lease.token, lease.acquired_at, lease.expires_at, now).where(
        lease.id == 1
    )


def _schema_is(revision: str) -> ColumnElement[bool]:
    return select(_VERSION.c.version_num).scalar_subquery() == bindparam(revision)


_HOLD = select(leader_lease.c.id).where(leader_lease.c.id == 1).with_for_update()


@prebuilt
def _TAKE(dialect: str) -> Executable:  # noqa: N802
    """Free (never held, or run out), or still held by the holder the taker knows is gone."""
    lease, now = leader_lease.c, clock(dialect)
    free = lease.expires_at.is_(None) | (lease.expires_at <= now)
    gone = (lease.holder == bindparam("seen_holder")) & (lease.token == bindparam("seen_token"))
    return (
        update(leader_lease)
        .where(lease.id == 1, free | gone, _schema_is("revision"))
        .values(
            holder=bindparam("me"),
            token=lease.token + 1,
            acquired_at=now,
            expires_at=now + bindparam("seconds"),
        )
        .returning(lease.token)
    )


@prebuilt
def _RENEW(dialect: str) -> Executable:  # noqa: N802
    """Still this holder's under this token (even run out: nobody took it meanwhile)."""
    lease, now = leader_lease.c, clock(dialect)
    return (
        update(leader_lease)
        .where(
            lease.id == 1,
            lease.holder == bindparam("fence_holder"),
            lease.token == bindparam("fence_token"),
            _schema_is("revision"),
        )
        .values(expires_at=now + bindparam("seconds"))
        .returning(lease.token)
    )


@prebuilt
def _GIVE_UP(dialect: str) -> Executable:  # noqa: N802
    lease = leader_lease.c
    return (
        update(leader_lease)
        .where(
            lease.id == 1,
            lease.holder == bindparam("fence_holder"),
            lease.token == bindparam("fence_token"),
        )
        .values(expires_at=clock(dialect))
    )


def read(db: Connection) -> Lease:
    """The lease as it stands, on a connection of the caller's (the doctor's)."""
    row = db.execute(_READ(db)).one()
    return Lease(row.holder, row.token, row.acquired_at, row.expires_at, float(row.now))


class LeaseStore(Repository):
    def lease(self) -> Lease:
        with self._connect() as db:
            return read(db)

    def revision(self) -> str | None:
        """The schema revision the database is at."""
        with self._connect() as db:
            found = db.execute(select(_VERSION.c.version_num)).first()
        return None if found is None else str(found[0])

    def take(
        self, me: str, seconds: float, revision: str, seen: Lease | None = None
    ) -> Fence | None:
        """The lease for `me`, when it is free or `seen` (a holder known to be gone) still
        holds it, and the database's schema is `revision`; None otherwise."""
        values = {
            "me": me,
            "seconds": seconds,
            "revision": revision,
            "seen_holder": seen.holder if seen else None,
            "seen_token": seen.token if seen else None,
        }
        with self._write() as db:
            db.execute(_HOLD)  # after the old leader's writes under way (PostgreSQL)
            token = db.execute(_TAKE(db), values).scalar()
        return None if token is None else Fence(me, int(token))

    def renew(self, fence: Fence, seconds: float, revision: str) -> bool:
        """Another `seconds` for the holder of `fence`; False when the lease changed hands
        (or the schema is no longer `revision`)."""
        values = {"fence_holder": fence.holder, "fence_token": fence.token, "seconds": seconds}
        with self._write() as db:
            token = db.execute(_RENEW(db), {**values, "revision": revision}).scalar()
        return token is not None

    def give_up(self, fence: Fence) -> None:
        """Run out now, at a clean stop: a standby takes over at its next look."""
        with self._write() as db:
            db.execute(_GIVE_UP(db), {"fence_holder": fence.holder, "fence_token": fence.token})
