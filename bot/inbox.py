"""The inbox: Events API deliveries (a :pushpin:, a digest review, App Home) are stored in
SQLite before Slack gets its 200, then processed from there by one thread.

Slack does not send an event again once it has its 200, so an event acknowledged and then
lost to a crash would be gone for good; stored first, it is processed at the next start. An
event that cannot be stored in time is answered 503, so Slack sends it again. A retry of the
same event_id is stored once. Processing runs the same Bolt listeners, through a second App
that runs them before answering, so the row is done only when they are.

An event whose listeners fail is tried again with capped backoff: while Slack is down (a
5xx, a timeout, no connection) for as long as GIVE_UP_TRANSIENT, so a pin made during an
outage lands when Slack is back; after a fault of our own, MAX_ATTEMPTS times. Then it is
dead: `opsbot inbox` lists it and retries it, /healthz counts it.
"""

from __future__ import annotations

import logging
import random
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
LEASE = timedelta(seconds=30)  # an event whose process died is tried again after this
MAX_ATTEMPTS = 5  # tries of an event that fails for a reason of our own
GIVE_UP_TRANSIENT = timedelta(hours=24)  # an event failing because Slack is down: this long
TRANSIENT = 503  # the status the inbox app answers when trying again later may work
IDLE_POLL_SECONDS = 0.5


class Inbox:
    def __init__(self, app: App, deps: Deps) -> None:
        # Wall-clock time, as the outbox keeps: retries are real waits, whatever the bot's clock.
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
        row = store.inbox.claim_inbox(self.owner, self.deps.outbox.clock(), LEASE)
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
        now = self.deps.outbox.clock()
        if response.status in (200, 404):  # 404: no listener wants it, nothing to do
            store.inbox.inbox_done(row.id, self.owner, now)
            return
        error = response.body or f"HTTP {response.status}"
        failing = now - (row.first_failed_at or now)
        passing = response.status == TRANSIENT
        if (passing and failing >= GIVE_UP_TRANSIENT) or (
            not passing and row.attempts >= MAX_ATTEMPTS
        ):
            log.error(
                "inbox: event %s is dead after %s tries: %s", row.event_id, row.attempts, error
            )
            store.inbox.inbox_bury(row.id, self.owner, error, now)
            return
        cap = self.deps.settings.outbox.backoff_cap_seconds  # the outbox's rule for retries
        wait = min(cap, 2.0 ** (row.attempts - 1)) * random.uniform(0.5, 1.0)
        log.warning(
            "inbox: event %s failed (%s); trying again in %.0f s", row.event_id, error, wait
        )
        store.inbox.inbox_retry(row.id, self.owner, now + timedelta(seconds=wait), error, now)

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
