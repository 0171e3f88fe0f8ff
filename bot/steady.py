"""The bot's clock: wall-clock time (UTC) that never runs backwards.

When the system clock is stepped back (a manual fix, a VM resumed, NTP's first sync), a
plain `datetime.now()` would make every timer wait for the old time to come round again: a
4-minute step delayed a P0 page by almost 4 minutes. This clock goes on from where it was
instead, at SLEW of the monotonic clock's pace, until it meets the wall clock again. A step
forward is followed at once (the wall is right more often than not, and cron jobs follow it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

SLEW = 0.9  # after a step back, 0.9 s of bot time per second until the wall catches up


class SteadyClock:
    def __init__(
        self,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall, self._monotonic = wall, monotonic
        self._lock = threading.Lock()
        self._last: tuple[datetime, float] | None = None  # what we said, and when (monotonic)

    def __call__(self) -> datetime:
        wall, mono = self._wall(), self._monotonic()
        with self._lock:
            if self._last is not None:
                said, at = self._last
                steady = said + timedelta(seconds=max(0.0, mono - at) * SLEW)
                wall = max(wall, steady)
            self._last = (wall, mono)
            return wall
