"""The inbox: Events API deliveries (a :pushpin:, a digest review, App Home) are stored in
SQLite before Slack gets its 200, then processed from there by one thread.

Slack does not send an event again once it has its 200, so an event acknowledged and then
lost to a crash would be gone for good; stored first, it is processed at the next start.
A retry of the same event_id is stored once. Processing runs the same Bolt listeners, through
a second App that runs them before answering, so the row is done only when they are.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_bolt import App, BoltRequest

from bot.store import InboxEvent

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

FROM_INBOX = "x-opsbot-inbox"  # marks a dispatch from the inbox (not a request from Slack)
LEASE = timedelta(seconds=30)  # a failed event is tried again when its lease runs out
MAX_ATTEMPTS = 5
IDLE_POLL_SECONDS = 0.5


class Inbox:
    def __init__(self, app: App, deps: Deps) -> None:
        self.app, self.deps = app, deps
        self.owner = deps.outbox.owner
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._active = 0

    def start(self) -> None:
        self.deps.store.on_receive = self.wake
        self._thread = threading.Thread(target=self._work, name="opsbot-inbox", daemon=True)
        self._thread.start()

    def stop(self, grace: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(grace)

    def wake(self) -> None:
        self._wake.set()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.process_one()
            except Exception:  # keep going: the row's lease runs out and it is tried again
                log.exception("inbox loop")
                busy = False
            if not busy:
                self._wake.wait(IDLE_POLL_SECONDS)
                self._wake.clear()

    def process_one(self) -> bool:
        """Run one stored event through the listeners; False when none is waiting."""
        store = self.deps.store
        row = store.claim_inbox(self.owner, self.deps.clock(), LEASE)
        if row is None:
            return False
        with self._idle:
            self._active += 1
        try:
            self._process(row)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()
        return True

    def _process(self, row: InboxEvent) -> None:
        store = self.deps.store
        request = BoltRequest(
            body=row.body,
            headers={FROM_INBOX: "1", "content-type": "application/json"},
            mode="socket_mode",  # already verified when it arrived; not a request from Slack
        )
        response = self.app.dispatch(request)
        if response.status in (200, 404):  # 404: no listener wants it, nothing to do
            store.inbox_done(row.id, self.owner)
        elif row.attempts >= MAX_ATTEMPTS:
            log.error("inbox: event %s failed %s times; giving up", row.event_id, row.attempts)
            store.inbox_done(row.id, self.owner, error=f"HTTP {response.status}")
        else:
            log.warning("inbox: event %s failed; trying again in %s", row.event_id, LEASE)

    def drain(self, timeout: float = 10.0) -> None:
        """Process everything waiting now, here and on the inbox thread (tests, console)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process_one():
                continue
            with self._idle:
                if not self._active:
                    return
                self._idle.wait(0.05)
