"""The scheduler of `opsbot serve` (and, ticked by hand, of `opsbot shell`).

One thread wakes every TICK_SECONDS on the monotonic clock, so a wall clock stepped back
never freezes it: interval jobs (timers, the monitor) run every N seconds of elapsed time
and compare wall times afresh each run. At each tick the one rule in jobs/rules.py says
which scheduled occurrences are owed, at start as at any other time: caught up, run on
time, or reported missed. Claims in the store make each occurrence run once.

Beside other `opsbot serve` on one database, it runs only while its process leads
(bot/leader.py), and every job's writes are fenced by the lease: a leader that lost the
lease while a job ran writes nothing more.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime

from apscheduler.triggers.interval import IntervalTrigger

from bot.deps import Deps
from bot.store import Fence, fenced
from jobs import JOBS, run_interval_job
from jobs.rules import due_runs, run_occurrence

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0  # a scheduled job starts within this of its due time
STALE_SECONDS = 120.0  # no tick for this long: the scheduler is not running


class Scheduler:
    def __init__(
        self,
        deps: Deps,
        tick_seconds: float = TICK_SECONDS,
        leading: Callable[[], Fence | None] | None = None,
    ) -> None:
        """`leading` says whether this process leads (its fence), when several may serve
        the database; without it the scheduler always runs, unfenced (the shell, tests)."""
        self.deps = deps
        self.leading = leading
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # interval jobs each, and the scheduled ones one after another (in due order)
        self._pool = ThreadPoolExecutor(len(JOBS), thread_name_prefix="opsbot-job")
        self._busy: dict[str, Future[None]] = {}
        self._next: dict[str, float] = {}
        self.last_tick: float | None = None

    # The thread ---------------------------------------------------------------------------

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="opsbot-scheduler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a tick that fails is logged; the next one tries again
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)

    @property
    def running(self) -> bool:
        alive = self._thread is not None and self._thread.is_alive()
        recent = self.last_tick is not None and time.monotonic() - self.last_tick < STALE_SECONDS
        return alive and recent

    def stop(self, grace: float = 0.0) -> None:
        """Start nothing more; give what runs `grace` seconds to finish. A scheduled run
        still going then is marked interrupted: the next start says so and runs it again."""
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        running = [future for future in self._busy.values() if not future.done()]
        if running:
            wait(running, timeout=grace)
        if self._running("@scheduled"):
            left = self.deps.store.jobs.interrupt_runs(self.deps.outbox.owner)
            log.warning("stopping: %s scheduled run(s) did not finish; marked interrupted", left)

    # One tick -----------------------------------------------------------------------------

    def tick(self, inline: bool = False, every_interval: bool = False) -> None:
        """Start what is due: interval jobs whose interval has passed (elapsed time), and
        scheduled occurrences owed now. `inline` runs them here, in order; the shell, whose
        `wait` moves the clock a minute per tick, asks for `every_interval` job too."""
        self.last_tick = elapsed = time.monotonic()
        fence = self.leading() if self.leading is not None else None
        if self.leading is not None and fence is None:
            self._next.clear()  # a standby; once it leads, every interval job is due
            return
        with fenced(fence) if fence is not None else contextlib.nullcontext():
            self._tick(elapsed, fence, inline, every_interval)

    def _tick(
        self, elapsed: float, fence: Fence | None, inline: bool, every_interval: bool
    ) -> None:
        for name, job in JOBS.items():
            trigger = job.trigger(self.deps)
            if not isinstance(trigger, IntervalTrigger) or self._running(name):
                continue
            if every_interval or elapsed >= self._next.get(name, 0.0):
                self._next[name] = elapsed + trigger.interval.total_seconds()
                work = functools.partial(run_interval_job, name, self.deps)
                self._start(name, work, inline, fence)
        if self._running("@scheduled"):
            return  # the last tick's occurrences are still running; their claims hold
        owed = due_runs(self.deps, self.deps.clock())
        if owed:
            self._start("@scheduled", lambda: self._run_in_order(owed), inline, fence)

    def _run_in_order(self, owed: list[tuple[datetime, str]]) -> None:
        for due, name in owed:
            if self._stop.is_set():
                return
            run_occurrence(name, self.deps, due)

    def _running(self, key: str) -> bool:
        future = self._busy.get(key)
        return future is not None and not future.done()

    def _start(self, key: str, work: Callable[[], None], inline: bool, fence: Fence | None) -> None:
        if inline:
            work()
            return
        self._busy[key] = self._pool.submit(_as_leader, work, fence)


def _as_leader(work: Callable[[], None], fence: Fence | None) -> None:
    """Run a job on a pool thread, fenced when its process runs it as leader."""
    if fence is None:
        work()
        return
    with fenced(fence):
        work()
