"""The leader's lease and its fence, on both engines: one holder at a time, a token that
grows at every change of hands, and a leader that lost the lease writing nothing more."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from bot.leader import Leadership
from bot.store import Fence, NotLeading, Store, StoreBusy, fenced, now_utc
from bot.store.schema.registry import NEWEST_REVISION
from tests.helpers import all_at_once

pytestmark = pytest.mark.both_engines

DEAD = f"{socket.gethostname()}:999999999:x"  # this host, a pid no process has


def test_one_taker_wins_and_the_token_grows_at_each_change_of_hands(store: Store) -> None:
    won: list[Any] = []
    all_at_once(lambda n: won.append(store.leases.take(f"p{n}", 30, NEWEST_REVISION)), 8)
    winners = [fence for fence in won if fence is not None]
    assert len(winners) == 1 and winners[0].token == 1
    lease = store.leases.lease()
    assert lease.holder == winners[0].holder and lease.held and 29 < lease.left <= 30
    assert store.leases.take("late", 30, NEWEST_REVISION) is None  # held, and not seen gone
    store.leases.give_up(winners[0])
    assert not store.leases.lease().held
    after = store.leases.take("late", 30, NEWEST_REVISION)
    assert after is not None and after.token == 2


def test_a_leader_that_lost_the_lease_writes_nothing_and_cannot_renew(store: Store) -> None:
    first = store.leases.take("first", 30, NEWEST_REVISION)
    assert first is not None
    with fenced(first):
        store.set_state("written.by", "first")
    # Paused past its lease: it ran out, and a standby took it.
    second = store.leases.take("second", 30, NEWEST_REVISION, seen=store.leases.lease())
    assert second is not None and second.token == first.token + 1
    with pytest.raises(NotLeading), fenced(first), store.atomic():
        store.set_state("written.by", "first, again")
        store.outbox.enqueue("post", "#incidents", {"text": "a page, twice"})
    assert store.state("written.by") == "first"
    assert store.outbox.outbox_summary(now_utc())["pending"] == 0
    assert not store.leases.renew(first, 30, NEWEST_REVISION)
    assert store.leases.renew(second, 30, NEWEST_REVISION)
    with fenced(second):
        store.set_state("written.by", "second")
    store.set_state("unfenced", "anyone")  # work that is not the leader's is not fenced
    assert store.state("written.by") == "second"


def test_a_lease_that_ran_out_is_free(store: Store) -> None:
    first = store.leases.take("first", 0.3, NEWEST_REVISION)
    assert first is not None
    assert store.leases.take("second", 30, NEWEST_REVISION) is None
    time.sleep(0.4)  # by the database's clock
    with pytest.raises(NotLeading), fenced(first):
        store.set_state("k", "late")
    second = store.leases.take("second", 30, NEWEST_REVISION)
    assert second is not None and second.token == 2


def test_a_takeover_waits_for_the_old_leaders_write_in_progress(store: Store) -> None:
    """The lease cannot change hands in the middle of a fenced write: the write lands whole
    under the old token, then the new leader takes over."""
    first = store.leases.take("first", 30, NEWEST_REVISION)
    assert first is not None
    finishing: list[float] = []
    inside = threading.Event()

    def old_leader() -> None:
        with fenced(first), store.atomic():
            store.set_state("k", "old")
            inside.set()
            time.sleep(0.5)
            finishing.append(time.monotonic())  # then it commits

    writer = threading.Thread(target=old_leader)
    writer.start()
    inside.wait(5)
    seen = store.leases.lease()
    second = store.leases.take("second", 30, NEWEST_REVISION, seen=seen)
    took = time.monotonic()
    writer.join()
    assert second is not None and store.state("k") == "old"
    assert finishing and took >= finishing[0]  # the takeover waited for the write


def test_the_leaders_renewal_never_waits_for_its_writes_under_way(store: Store) -> None:
    """A write of the leader's may wait on other locks for its whole budget; the renewal of
    its lease must not wait behind it, or a busy database would cost it the lease."""
    if store.sqlite:
        pytest.skip("SQLite's writers take turns: a renewal waits for any write")
    first = store.leases.take("first", 30, NEWEST_REVISION)
    assert first is not None
    inside, done = threading.Event(), threading.Event()

    def long_write() -> None:
        with fenced(first), store.atomic():
            store.set_state("k", "slow")
            inside.set()
            done.wait(5)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        inside.wait(5)
        began = time.monotonic()
        assert store.leases.renew(first, 30, NEWEST_REVISION)
        assert time.monotonic() - began < 0.5
    finally:
        done.set()
        writer.join()


def test_a_database_newer_than_the_code_is_not_led(store: Store, caplog: Any) -> None:
    """A newer opsbot upgraded the schema beside this one: this one neither takes the lease
    nor keeps it, and says why once."""
    leading = Leadership(store, "old", 30).start()
    try:
        assert leading.fence() is not None
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
        leading.step()
        leading.step()
        assert leading.fence() is None and leading.status()["role"] == "standby"
        assert "0099, newer than this opsbot's" in (leading.problem or "")
        assert caplog.text.count("newer than this opsbot's") == 1
        other = Leadership(store, "other", 30).start()
        assert other.fence() is None
    finally:
        leading.stop()


def test_a_standby_leads_once_the_leader_stops_and_a_leader_stops_by_its_own_clock(
    store: Store,
) -> None:
    """Each look (`step`, every third of the lease on its thread) taken by hand here."""
    led: list[tuple[str, str]] = []
    a = Leadership(store, "a", 30, on_lead=lambda fence, before: led.append(("a", before)))
    b = Leadership(store, "b", 30, on_lead=lambda fence, before: led.append(("b", before)))
    a.step()
    b.step()
    assert a.status()["role"] == "leader" and b.status()["role"] == "standby"
    assert b.status()["lease"]["holder"] == "a"
    a.stop()  # a clean stop hands it over: b leads at its next look
    b.step()
    assert b.fence() is not None and led == [("a", ""), ("b", "a")]
    b.stop()
    # c leads, then cannot renew (paused, or the database does not answer): by its own clock
    # it stops acting as leader a fifth of the lease before the lease runs out
    c = Leadership(store, "c", 0.5)
    c.step()
    assert c.fence() is not None
    time.sleep(0.5 * 0.8 + 0.02)
    assert c.fence() is None and c.status()["role"] == "standby"


def test_what_a_busy_database_kept_the_new_leader_from_putting_right_is_done_at_renewal(
    store: Store,
) -> None:
    """Taking over, the leader frees what the old one held; the database is too busy at that
    moment: it leads on, and puts it right at its next renewal (once)."""
    tries: list[str] = []

    def put_right(fence: Fence, before: str) -> None:
        tries.append(before)
        if len(tries) == 1:
            raise StoreBusy

    a = Leadership(store, "a", 30)
    a.step()
    a.stop()
    b = Leadership(store, "b", 30, on_lead=put_right)
    b.step()
    assert b.fence() is not None and tries == ["a"]
    b.step()  # a renewal
    b.step()
    assert tries == ["a", "a"]
    b.stop()


def test_a_leader_on_this_host_that_died_is_taken_over_at_once(store: Store) -> None:
    dead = store.leases.take(DEAD, 300, NEWEST_REVISION)
    assert dead is not None
    restarted = Leadership(store, "restarted", 300).start()
    try:
        assert restarted.fence() is not None
        assert restarted.status()["lease"]["holder"] == "restarted"
    finally:
        restarted.stop()
