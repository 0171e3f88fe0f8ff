"""Which `opsbot serve` leads: the one holding the lease in the database (store.leases).

Any number of processes may serve one PostgreSQL database. All of them answer Slack and
deliver the outbox; the leader alone runs the scheduler, the incident timers and crash
recovery, each write of that work fenced by the lease's token (bot/store/fence.py). The
leader renews the lease every third of its length; a standby tries to take it as often, and
takes it once it has run out (or at once, when its holder was a process on this host that is
gone). A leader that cannot renew in time stops acting as one by its own clock before the
lease runs out by the database's: a paused leader wakes up as a standby. On SQLite the one
process that owns the file takes the lease at start, whoever held it before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.owners import owner_gone
from bot.store import Fence, Lease, Store, StoreBusy, fenced
from bot.store.schema.registry import NEWEST_REVISION

log = logging.getLogger("opsbot")

# Stop acting as leader this long before the lease runs out: the database's clock and this
# process's may disagree by a little, and a write takes a moment to land.
MARGIN = 0.2  # of the lease
UNREACHABLE = "cannot reach the database"


class Leadership:
    def __init__(
        self,
        store: Store,
        me: str,
        seconds: float,
        *,
        exclusive: bool = False,
        on_lead: Callable[[Fence, str], None] | None = None,
    ) -> None:
        """`me` leads for `seconds` at a time once it holds the lease; `exclusive` when this
        process alone may serve the database (SQLite's file lock), so an old holder is
        stale. `on_lead(fence, previous holder)` runs, fenced, each time it starts leading."""
        self.store, self.me, self.seconds = store, me, seconds
        self.exclusive = exclusive
        self.on_lead = on_lead
        self._fence: Fence | None = None
        self._until = 0.0  # monotonic time after which this process no longer acts as leader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_seen: Lease | None = None
        self.problem: str | None = None  # why the database could not be asked, said once
        self._owed: str | None = None  # the holder before, while on_lead has not run through

    # Seen from the scheduler and /healthz -----------------------------------------------

    def fence(self) -> Fence | None:
        """This process's fence while it leads; None on a standby, or once its lease may
        have run out without a renewal."""
        fence = self._fence
        return fence if fence is not None and time.monotonic() < self._until else None

    def status(self) -> dict[str, Any]:
        """The role, and the lease as last seen: its holder, token and age."""
        lease = self.last_seen
        return {
            "role": "leader" if self.fence() else "standby",
            "lease": {
                "holder": lease.holder if lease else None,
                "token": lease.token if lease else None,
                "held_for_seconds": round(lease.held_for, 1)
                if lease and lease.held_for is not None
                else None,
                "held": lease.held if lease else False,
            },
        }

    # The thread -------------------------------------------------------------------------

    def start(self) -> Leadership:
        self.step()  # lead from the first moment when the lease is free
        self._thread = threading.Thread(target=self._loop, name="opsbot-leader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop, and hand the lease back at once so a standby need not wait for it to run out."""
        self._stop.set()
        fence, self._fence = self._fence, None
        if fence is not None:
            try:
                self.store.leases.give_up(fence)
            except Exception as exc:  # it runs out by itself
                log.warning("leader: could not hand the lease back (%s)", exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            self.step()

    def step(self) -> None:
        """Renew the lease while leading, else try to take it; what stands in the way is
        logged once, until it changes."""
        try:
            problem = self._renew(self._fence) if self._fence else self._try_take()
            self.last_seen = self.store.leases.lease()
        except Exception as exc:
            problem = f"{UNREACHABLE} ({type(exc).__name__}: {exc})"
        if problem != self.problem:
            if problem is not None:
                log.warning("leader: %s", problem)
            elif self.problem is not None and self.problem.startswith(UNREACHABLE):
                log.warning("leader: the database answers again")
        self.problem = problem

    def _renew(self, fence: Fence) -> str | None:
        began = time.monotonic()
        if self.store.leases.renew(fence, self.seconds, NEWEST_REVISION):
            self._until = began + self.seconds * (1 - MARGIN)
            if self._owed is not None:
                self._put_right(fence, self._owed)
            return None
        self._fence, self._until = None, 0.0
        revision = self.store.leases.revision()
        if revision != NEWEST_REVISION:
            return self._newer(revision)
        log.warning("leader: lost the lease (token %s); standing by", fence.token)
        return None

    def _try_take(self) -> str | None:
        seen = self.store.leases.lease()
        stale = seen.holder and (self.exclusive or owner_gone(seen.holder, self.me))
        began = time.monotonic()
        fence = self.store.leases.take(
            self.me, self.seconds, NEWEST_REVISION, seen if stale else None
        )
        if fence is None:
            revision = self.store.leases.revision()
            return self._newer(revision) if revision != NEWEST_REVISION else None
        self._fence, self._until = fence, began + self.seconds * (1 - MARGIN)
        previous = seen.holder if seen.holder != self.me else ""
        log.warning(
            "leader: leading (token %s)%s",
            fence.token,
            f", after {previous}" if previous else "",
        )
        self._owed = previous if self.on_lead is not None else None
        if self._owed is not None:
            self._put_right(fence, self._owed)
        return None

    def _put_right(self, fence: Fence, previous: str) -> None:
        """on_lead, fenced; when it fails (a database too busy at the moment of taking over),
        this leader leads on and tries again at its next renewal."""
        assert self.on_lead is not None
        try:
            with fenced(fence):
                self.on_lead(fence, previous)
        except Exception as exc:
            log.warning(
                "leader: putting right what a crash cut short failed (%s); trying again at the "
                "next renewal",
                type(exc).__name__,
                exc_info=not isinstance(exc, StoreBusy),  # a fault of ours: its traceback
            )
            return
        self._owed = None

    def _newer(self, revision: str | None) -> str:
        return (
            f"not leading: the database's schema is at revision {revision}, newer than this "
            f"opsbot's {NEWEST_REVISION}; the newer opsbot leads (stop this one once it runs)"
        )
