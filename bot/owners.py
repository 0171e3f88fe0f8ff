"""Who holds a claim (an outbox or inbox row, a job run): a process, named by its host, its
pid and a nonce; and whether that process is gone, so what it held is free at once."""

from __future__ import annotations

import logging
import os
import socket
import uuid

import psutil

from bot.store import Store, StoreBusy, now_utc

log = logging.getLogger(__name__)


def owner_id() -> str:
    """Who claims rows: this host and process, and a nonce (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def on_this_host(owner: str) -> bool:
    return owner.split(":")[0] == socket.gethostname()


def owner_gone(owner: str, me: str) -> bool:
    """An owner that was a process on this host which is no longer running (or an earlier
    life of this very process id). Owners on other hosts are left to their leases."""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname() or owner == me:
        return False
    pid = int(parts[1]) if parts[1].isdigit() else -1
    return pid == os.getpid() or not psutil.pid_exists(pid)


def release_dead(store: Store, me: str) -> int:
    """Rows leased by a process on this host that is gone are claimable at once instead of
    when their lease runs out (a restart after kill -9 must not wait 30 s to page), but no
    sooner than a request it had in flight could have landed; the interval jobs whose tick
    it had claimed are due now. A database too busy for it leaves them to their leases."""
    released, now = 0, now_utc()
    try:
        for owner in store.outbox.lease_owners():
            if owner_gone(owner, me):
                released += store.outbox.release_owner(owner)
                released += store.jobs.release_ticks(owner, now)
    except StoreBusy:
        log.warning("the database is busy: rows of a process that is gone wait for their leases")
    return released
