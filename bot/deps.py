"""Everything a listener or job needs, built once by the composition root and passed in."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient

from bot.config import Settings
from bot.store import Store, now_utc


class KeyedLocks:
    """One lock per key (an incident number): serialises card updates for one incident only."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: defaultdict[object, threading.Lock] = defaultdict(threading.Lock)

    def __call__(self, key: object) -> threading.Lock:
        with self._guard:
            return self._locks[key]


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    slack: WebClient
    executor: Executor
    clock: Callable[[], datetime] = now_utc
    card_locks: KeyedLocks = field(default_factory=KeyedLocks)
