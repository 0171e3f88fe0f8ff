"""Run independent checks at once, each bounded by one shared deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")


def run_all(
    tasks: dict[str, Callable[[], T]],
    limit: float,
    failed: Callable[[str, str], T],
    name: str,
    grace: float = 0.0,
) -> list[T]:
    """One thread a task, so none waits behind another; the answer comes within `limit`
    seconds (plus `grace` for the hand-over). A task that overruns or raises becomes
    `failed(key, reason)`; a hung one is left behind rather than holding up the rest."""
    pool = ThreadPoolExecutor(len(tasks), thread_name_prefix=f"opsbot-{name}")
    futures: dict[str, Future[T]] = {key: pool.submit(task) for key, task in tasks.items()}
    pool.shutdown(wait=False)
    deadline = time.monotonic() + limit + grace
    results = []
    for key, future in futures.items():
        try:
            results.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            results.append(failed(key, f"no answer in {limit:g} s"))
        except Exception as exc:  # one failing task reports itself; the others still count
            results.append(failed(key, f"the check failed: {type(exc).__name__}"))
    return results
