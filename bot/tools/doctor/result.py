"""What a check returns (a Result: ok, fail, or off) and what the checks share (Context)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bot.config import Settings
from bot.store.base import SETUP_CHECKS_KEY

OK, FAIL, OFF = "ok", "fail", "off"
STATE_KEY = SETUP_CHECKS_KEY  # the checks `opsbot serve` ran, for the App Home
MARK = {OK: "✓", FAIL: "✗", OFF: "–"}
TIMEOUT = 5.0


@dataclass(frozen=True)
class Result:
    check: str
    state: str  # ok, fail, or off (a feature not configured: nothing to check)
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{MARK[self.state]} {self.check}: {self.detail}"
        return text + (f"\n    fix: {self.fix}" if self.fix and self.state == FAIL else "")


@dataclass
class Context:
    """What the checks share: settings, the mode, and Slack's answer to auth.test."""

    settings: Settings
    socket: bool
    serving: bool = False  # run by `opsbot serve`, which holds the database itself
    auth: httpx.Response | None = None


Check = Callable[[Context], Result | list[Result]]
