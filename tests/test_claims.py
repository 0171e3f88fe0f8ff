"""Claims between processes: two processes, each with its own store and no lock in common,
race for the same rows of one database (a SQLite file, a PostgreSQL database); every row is
taken exactly once.

Each worker is a fresh interpreter (multiprocessing's spawn), so nothing of this process (a
connection, a lock) is shared; they start together at a barrier."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import socket
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.owners import release_dead
from bot.store import Store
from tests.postgres import Cluster

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROWS = 120
TICK = timedelta(seconds=30)  # the incident timers' interval
WORK = 0.005  # seconds of "work" per claim, so the two interleave
SPAWN = multiprocessing.get_context("spawn")

# One worker runs this module, so each engine's races run once (the fixture is per worker);
# the one that runs the other tests on PostgreSQL, so one cluster is started.
pytestmark = pytest.mark.xdist_group("postgresql")


def _outbox(store: Store, owner: str) -> list[int]:
    taken = []
    now = datetime.now(UTC)  # outbox rows carry wall-clock times
    while True:
        heads = store.outbox.claimable(now + timedelta(hours=1), limit=ROWS)
        if not heads:
            return taken
        for effect in heads:
            if store.outbox.claim(effect.id, owner, now, timedelta(hours=1)) is not None:
                taken.append(effect.id)
                time.sleep(WORK)
                store.outbox.delivered(effect.id, owner, now)


def _inbox(store: Store, owner: str) -> list[int]:
    taken = []
    while (
        event := store.inbox.claim_inbox(owner, T0 + timedelta(hours=1), timedelta(hours=1))
    ) is not None:
        taken.append(event.id)
        time.sleep(WORK)
    return taken


def _job_runs(store: Store, owner: str) -> list[int]:
    taken = []
    for minute in range(ROWS):
        if store.jobs.claim_run("backup-nightly", T0 + timedelta(minutes=minute), T0, owner):
            taken.append(minute)
            time.sleep(WORK)
    return taken


def _ticks(store: Store, owner: str, step: Any) -> list[int]:
    """Both processes tick an interval job at the same moments, in step (as two hosts with
    one clock would): returned, the ticks this one ran."""
    taken = []
    for tick in range(ROWS):
        step.wait()
        if store.jobs.claim_tick("incident-timers", T0 + tick * TICK, TICK, owner):
            taken.append(tick)
    return taken


def _rollbacks(store: Store, owner: str) -> list[int]:
    """Each worker starts its own rollbacks (odd or even ids) one after another; one may run
    at a time. Returned: how many running it saw while it held the lock (always 1), and -1
    for each time the other held it."""
    seen = []
    for mine in range(1 if owner == "a" else 2, ROWS + 1, 2):
        while not store.rollbacks.claim_rollback(mine, T0):
            seen.append(-1)
            time.sleep(WORK / 4)
        seen.append(len(store.rollbacks.find("running")))
        time.sleep(WORK)
        store.rollbacks.update_rollback(mine, status="ok")
        time.sleep(WORK)  # the other's turn
    return seen


def _backups(store: Store, owner: str) -> list[int]:
    """As for rollbacks: one backup running at a time."""
    seen = []
    for _ in range(ROWS // 2):
        while (backup := store.backups.start_backup("mongodb", "pb", owner, "test", T0)) is None:
            seen.append(-1)
            time.sleep(WORK / 4)
        seen.append(len(store.backups.find(status="running", limit=5)))
        time.sleep(WORK)
        store.backups.finish_backup(backup, status="ok")
        time.sleep(WORK)  # the other's turn
    return seen


CLAIMS = {
    "outbox": _outbox,
    "inbox": _inbox,
    "job_runs": _job_runs,
    "ticks": _ticks,
    "rollbacks": _rollbacks,
    "backups": _backups,
}


def _worker(db: str, owner: str, start: Any, results: Any) -> None:
    """Every race in turn, both workers starting each one together at the barrier."""
    store = Store(db)
    store.ping()  # connected before the start, so neither has a head start
    for what, claims in CLAIMS.items():
        start.wait()
        taken = claims(store, owner, start) if what == "ticks" else claims(store, owner)
        results.put((what, owner, taken))


def _prepare(what: str, store: Store) -> None:
    with store.atomic():
        for n in range(ROWS):
            if what == "outbox":  # a lane each, so every row is a head at once
                store.outbox.enqueue("post", f"C{n}", {"text": str(n)})
            elif what == "inbox":
                store.inbox.receive(f"Ev{n}", "{}", T0)
            elif what == "rollbacks":
                store.rollbacks.add_rollback(
                    {"tag": f"v{n}", "status": "pending", "created_at": T0}
                )


def _race(db: str) -> dict[str, tuple[list[Any], list[Any]]]:
    """Run every race between two fresh processes (one pair for all: each costs an
    interpreter's start); per race, what each of them took."""
    store = Store(db)
    store.migrate()
    for what in CLAIMS:
        _prepare(what, store)
    start, results = SPAWN.Barrier(2), SPAWN.Queue()
    workers = [SPAWN.Process(target=_worker, args=(db, o, start, results)) for o in "ab"]
    for worker in workers:
        worker.start()
    got: dict[tuple[str, str], Any] = {}
    deadline = time.monotonic() + 90
    while len(got) < len(workers) * len(CLAIMS):
        assert time.monotonic() < deadline, "the races did not end"
        dead = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
        assert not dead, f"a worker failed (exit {dead[0]}): its traceback is above"
        with contextlib.suppress(queue.Empty):
            what, owner, taken = results.get(timeout=0.2)
            got[what, owner] = taken
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    store.close()
    return {what: (got[what, "a"], got[what, "b"]) for what in CLAIMS}


# Each engine's races, run once: pytest may set the module's fixture up again for a later
# parameter's tests, and a race costs two interpreters' start.
_RACED: dict[str, dict[str, tuple[list[Any], list[Any]]]] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def raced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[list[Any], list[Any]]]:
    """The races, run once per engine on a database of their own."""
    engine = request.param
    if engine in _RACED:
        return _RACED[engine]
    if engine == "sqlite":
        _RACED[engine] = _race(str(tmp_path_factory.mktemp("claims") / "opsbot.db"))
        return _RACED[engine]
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    template: str = request.getfixturevalue("postgres_template")
    with cluster.database(template=template) as url:
        _RACED[engine] = _race(url)
    return _RACED[engine]


@pytest.mark.parametrize("what", ["outbox", "inbox", "job_runs"])
def test_two_processes_never_take_the_same_row(raced: Any, what: str) -> None:
    a, b = raced[what]
    taken = Counter([*a, *b])
    assert [k for k, n in taken.items() if n > 1] == [], "claimed twice"
    assert len(taken) == ROWS  # and none was left behind
    assert a and b, "one process took everything: the race was not run"


def test_two_processes_run_an_interval_job_once_per_interval(raced: Any) -> None:
    a, b = raced["ticks"]
    assert sorted([*a, *b]) == list(range(ROWS))  # every tick ran, and ran once
    assert a and b, "one process ran every tick: the race was not run"


@pytest.mark.parametrize("what", ["rollbacks", "backups"])
def test_two_processes_never_run_two_at_once(raced: Any, what: str) -> None:
    a, b = raced[what]
    held = [n for n in [*a, *b] if n >= 0]
    assert len(held) == ROWS  # every one ran, in turn
    assert set(held) == {1}, "two were running at once"
    assert -1 in a and -1 in b, "they never met: the race was not run"


@pytest.mark.both_engines
def test_an_interval_tick_runs_once_per_interval_and_survives_a_clock_stepped_back(
    store: Store,
) -> None:
    assert store.jobs.claim_tick("card-sync", T0, TICK, "a")
    assert not store.jobs.claim_tick("card-sync", T0 + TICK / 2, TICK, "b")  # a ran it just now
    assert store.jobs.claim_tick("card-sync", T0 + TICK * 0.9, TICK, "b")  # a tick a little early
    assert not store.jobs.claim_tick("card-sync", T0 + TICK, TICK, "a")
    assert store.jobs.claim_tick("card-sync", T0 - timedelta(hours=1), TICK, "a")  # clock went back
    assert store.jobs.claim_tick("health-monitor", T0 - timedelta(hours=1), TICK, "a")  # its own


@pytest.mark.both_engines
def test_a_tick_a_dead_process_claimed_runs_at_the_restart(store: Store) -> None:
    """Killed between claiming the incident timers' tick and running them: the restart runs
    them at once (a breach's page), not most of an interval later."""
    dead = f"{socket.gethostname()}:999999999:x"  # this host, a pid no process has
    now = datetime.now(UTC)  # released ticks are due at the wall clock's now
    assert store.jobs.claim_tick("incident-timers", now, TICK, dead)
    later = now + timedelta(seconds=1)
    assert not store.jobs.claim_tick("incident-timers", later, TICK, "restarted")
    assert release_dead(store, "restarted") == 1
    assert store.jobs.claim_tick("incident-timers", later, TICK, "restarted")
