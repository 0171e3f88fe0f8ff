"""Bounded pools for slow work, and shared runs of the same work.

Probes, backups and verifies, and rollbacks each get their own few threads and a short queue,
so that forty hanging /health calls cannot keep a /backup or a /rollback waiting, and a full
queue is said at once ("busy: 3 backups waiting") instead of leaving someone waiting minutes.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bot.config import Settings
from bot.replies import UserError

T = TypeVar("T")
LISTENER_THREADS = 32


class Busy(UserError):
    """The pool's queue is full; nothing was started."""


class Pool:
    def __init__(self, name: str, threads: int, queue: int, noun: str) -> None:
        self.name, self.noun = name, noun
        self.limit = threads + queue
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=f"opsbot-{name}")
        self._pending = 0
        self._idle = threading.Condition()

    def check(self) -> None:
        """Busy now if the queue is full (before an ack that would promise the work)."""
        with self._idle:
            if self._pending >= self.limit:
                raise self._busy()

    def _busy(self) -> Busy:
        return Busy(
            f"busy: {self._pending} {self.noun} already running or waiting; "
            "nothing was started. Try again in a minute."
        )

    def submit(self, work: Callable[[], object]) -> Future[object]:
        """Run `work` on the pool, or raise Busy at once when `limit` are running or waiting."""
        with self._idle:
            if self._pending >= self.limit:
                raise self._busy()
            self._pending += 1
        try:
            return self._executor.submit(self._run, work)
        except RuntimeError:  # shut down
            self._finished()
            raise

    def _run(self, work: Callable[[], object]) -> object:
        try:
            return work()
        finally:
            self._finished()

    def _finished(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 30) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


class Shared(Generic[T]):
    """One run of `work` at a time for everyone who asks: callers arriving while it runs get
    its result too, and a result younger than `reuse_seconds` is handed out again. A hundred
    concurrent /health cost one probe run and one pool slot."""

    def __init__(self, work: Callable[[], T], reuse_seconds: float, pool: Pool) -> None:
        self.work, self.reuse, self.pool = work, reuse_seconds, pool
        self._lock = threading.Lock()
        self._waiting: list[tuple[Callable[[T], object], Callable[[BaseException], None]]] = []
        self._running = False
        self._last: tuple[float, T] | None = None

    def request(
        self, deliver: Callable[[T], object], failed: Callable[[BaseException], None]
    ) -> None:
        """Call `deliver` with a result (on the pool's thread); Busy when the pool is full."""
        with self._lock:
            last = self._last
            fresh = last is not None and time.monotonic() - last[0] <= self.reuse
            if not fresh:
                self._waiting.append((deliver, failed))
                if self._running:
                    return
                self._running = True
        if fresh:
            assert last is not None
            deliver(last[1])
            return
        try:
            self.pool.submit(self._run)
        except Busy as busy:
            with self._lock:
                waiting, self._running, self._waiting = self._waiting, False, []
            for _, told in waiting:
                told(busy)

    def _run(self) -> None:
        try:
            result = self.work()
        except BaseException as exc:
            with self._lock:
                waiting, self._waiting, self._running = self._waiting, [], False
            for _, failed in waiting:
                failed(exc)
            return
        with self._lock:
            waiting, self._waiting, self._running = self._waiting, [], False
            self._last = (time.monotonic(), result)
        for deliver, failed in waiting:
            try:
                deliver(result)
            except Exception as exc:  # one caller's failed answer must not cost the others
                failed(exc)


class InContext(ThreadPoolExecutor):
    """Runs each call in the context of the thread that submitted it: a listener Bolt runs
    for a request knows when that request's answer is due (bot/store/base.py, answering)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


@dataclass(frozen=True)
class Pools:
    probes: Pool
    backups: Pool
    rollbacks: Pool
    # /incident stats: one report drawn at a time (charts are CPU), a few waiting
    reports: Pool = field(default_factory=lambda: Pool("report", 1, 3, "reports"))
    reuse_seconds: float = 5.0
    # Bolt runs every listener on this pool; its default of 5 lets five slow listeners starve
    # the sixth request's ack past Slack's 3 seconds.
    listeners: ThreadPoolExecutor = field(
        default_factory=lambda: InContext(LISTENER_THREADS, "opsbot-listener")
    )
    _shared: dict[str, Shared[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def shared(self, name: str, work: Callable[[], T]) -> Shared[T]:
        """The one shared run of `work` named `name` (on the probe pool)."""
        with self._lock:
            if name not in self._shared:
                self._shared[name] = Shared(work, self.reuse_seconds, self.probes)
            return self._shared[name]

    @classmethod
    def from_settings(cls, settings: Settings) -> Pools:
        p = settings.pools
        return cls(
            probes=Pool("probe", p.probe_threads, p.probe_queue, "health checks"),
            backups=Pool("backup", p.backup_threads, p.backup_queue, "backups or verifies"),
            rollbacks=Pool("rollback", p.rollback_threads, p.rollback_queue, "rollbacks"),
            reuse_seconds=p.health_reuse_seconds,
        )

    def all(self) -> tuple[Pool, ...]:
        return (self.probes, self.backups, self.rollbacks, self.reports)

    def shutdown(self, wait: bool = True) -> None:
        for pool in self.all():
            pool.shutdown(wait)
        self.listeners.shutdown(wait=wait, cancel_futures=not wait)
