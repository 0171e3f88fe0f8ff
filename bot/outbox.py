"""Delivery of the outbox: every effect opsbot owes Slack or a third party, from the database.

A command writes its effects as outbox rows in the transaction of its change (Store.enqueue);
this module delivers them. Rows are grouped in lanes (one incident in a Slack channel, one
other channel, one person's DMs, one third party) and a lane delivers one row at a time in
commit order, so a card is posted before its thread lines and two updates of one card never
cross. Lanes never wait for each other: a Statuspage outage delays no card, a 429 on the
digest channel delays no page in #incidents, a card Slack is slow to take holds up no other
incident. Slack's pace (about one post a second per channel) is kept per channel, and pages
go first.

Failures are classified (bot/failures.py). An answer that will not change by trying again
(Slack's `invalid_blocks`, `channel_not_found`, `message_not_found`, an HTTP 4xx) ends the
row at once: a layout Slack refuses is posted as plain text and says so, an update of a
deleted message is dropped, a page falls back, anything else is `refused`. What may pass
(5xx, 429, timeouts, a dropped connection) is retried with capped, jittered exponential
backoff (a 429's Retry-After honoured) until `outbox.give_up_minutes`, then it is dead.
`opsbot outbox` lists dead and refused rows, /healthz counts them, and the kind's
`on_failure` hears of it (an incident's third-party effects tell the commander). A page not
delivered `page_fallback_minutes` after it was owed
falls back (a top-level post in the incidents channel), wherever it stands in its lane.

Rows are claimed with an owner and a lease, so a process that dies mid-delivery leaves the
row to be claimed again, by itself after a restart or by a standby; a request the dead process
may still have in flight is given the call's timeout to land first. A post is tagged with
Slack message metadata naming its row and this database; a row tried before is first looked
up in the channel, so a post that reached Slack just before a crash is adopted instead of
posted twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot import failures
from bot.failures import Dropped, failure_text, refused, retry_after, timed_out, transient
from bot.kinds import Kind
from bot.lanes import pace_key
from bot.owners import owner_id, release_dead
from bot.redact import RedactingClient
from bot.store import Effect, Head, Store, StoreBusy, now_utc

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.deps import Deps

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)  # longer than any one delivery: Slack calls time out at 10 s
# Waits before recording a delivery again through a busy database: with four tries of the
# write budget, well inside LEASE.
RECORD_WAITS = (0.5, 1.0, 2.0, 4.0)
OVERDUE_EVERY = timedelta(seconds=1)
LISTING_KEPT = 0.1  # a listing of the lanes' heads serves the workers this long (_list_heads)
IDLE_POLL_SECONDS = 0.5  # rows of other processes and retries falling due are seen this fast
BACKOFF_BASE_SECONDS = 1.0
LANDING_MARGIN = timedelta(seconds=2)  # beyond the call's timeout, for a request to land
PAGE_PRIORITY = 10  # pages go before everything else owed in their channel


class _NoToken(Exception):
    """The channel's bucket is empty: the claim made with it is undone."""


class OutboxGaveUp(Exception):
    """A row waited on (post_and_wait) was given up on; nothing reached Slack."""


class Outbox:
    """The delivery loop: worker threads that claim due rows and deliver them."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        token: str,
        kinds: Mapping[str, Kind],
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        # Wall-clock time, whatever the bot's clock: retries and leases are real waits, and
        # rows are matched against Slack's message times.
        # How each kind of row is delivered: a table the composition root assembles.
        self.store, self.settings, self.kinds, self.clock = store, settings, dict(kinds), clock
        policy = settings.outbox
        self.owner = owner_id()
        self.slack = RedactingClient(
            token=token,
            base_url=settings.slack_api_url,
            timeout=int(policy.timeout_seconds),
        )
        # A request a claim makes may land at Slack up to the call's timeout after it.
        self.inflight = timedelta(seconds=policy.timeout_seconds) + LANDING_MARGIN
        self._pace_due: dict[str, float] = {}  # channel -> when its bucket has a token again
        self._overdue_seen: datetime | None = None  # when late pages were last looked for
        self._heads: list[Head] = []  # the lanes' heads as last listed, for every worker
        self._heads_until = 0.0  # when that listing is too old to use (time.monotonic())
        self._heads_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Condition()
        self._inflight = 0
        self._threads: list[threading.Thread] = []
        self.deps: Deps | None = None

    # Lifecycle ----------------------------------------------------------------------------

    def bind(self, deps: Deps) -> None:
        """The handlers' view of the bot; set once by the composition root."""
        self.deps = deps

    def start(self, workers: int | None = None) -> None:
        """Deliver in the background from now on (serve and the console do; run-job
        delivers its own rows in the foreground)."""
        self._stop.clear()
        self.store.on_enqueue = self.wake
        release_dead(self.store, self.owner)
        for number in range(workers or self.settings.outbox.workers):
            thread = threading.Thread(
                target=self._work, name=f"opsbot-outbox-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, grace: float = 5.0) -> None:
        """Stop taking rows; wait up to `grace` for those in flight. Whatever is left stays in
        SQLite and is delivered at the next start."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def wake(self) -> None:
        self._wake.set()

    # Delivering ----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.deliver_one()
            except Exception:  # the loop must outlive any one bad row or a locked file
                log.exception("outbox delivery loop")
                busy = False
            if not busy:
                self._wake.wait(IDLE_POLL_SECONDS)
                self._wake.clear()

    def deliver_one(self, *, paced: bool = True) -> bool:
        """Claim and deliver one due row (or fall back on one overdue); False when there
        was none to take now. Counted in flight from before its claim, so drain() never
        sees a row claimed and not yet counted as nothing left to wait for."""
        with self._done:
            self._inflight += 1
        try:
            return self._deliver_one(paced)
        finally:
            with self._done:
                self._inflight -= 1
                self._done.notify_all()

    def _deliver_one(self, paced: bool) -> bool:
        now = self.clock()
        if self._fall_back_overdue(now):
            return True
        fresh = time.monotonic() >= self._heads_until
        if fresh:
            self._list_heads(now)
        while True:
            taken = self._take_head(paced)
            if taken is None:
                if fresh:
                    return False
                self._list_heads(now)  # the listing gave nothing: what is there now?
                fresh = True
                continue
            head, paced_here = taken
            claimed = self._claim(head, now, paced_here)
            if claimed is not None:
                self._deliver(claimed)
                return True

    def _list_heads(self, now: datetime) -> None:
        """List the lanes' heads for every worker of this process, to serve them for
        LISTING_KEPT: with hundreds of lanes waiting, listing before every delivery was most
        of a worker's work."""
        heads = self.store.outbox.heads(now)
        with self._heads_lock:
            self._heads, self._heads_until = heads, time.monotonic() + LISTING_KEPT

    def _take_head(self, paced: bool) -> tuple[Head, bool] | None:
        """The first head of the listing that may be tried now (and whether it spends its
        channel's pace), taken off it so no other worker tries it too. Its claim checks
        again that the row is still free and due."""
        with self._heads_lock:
            urgent = {head.lane for head in self._heads if head.urgent}
            # A channel's pace is kept for its urgent lanes while they wait: no other post
            # in that channel takes a turn before the page has gone.
            reserved = {pace_key(lane) for lane in urgent}
            for head in self._heads:
                if not head.ready:
                    continue
                spec = self.kinds.get(head.kind)
                paced_here = paced and spec is not None and spec.paced
                if paced_here:
                    key = pace_key(head.lane)
                    waits = key in reserved and head.lane not in urgent
                    if waits or time.monotonic() < self._pace_due.get(key, 0.0):
                        continue
                self._heads.remove(head)
                return head, paced_here
        return None

    def _claim(self, effect: Head, now: datetime, paced: bool) -> Effect | None:
        """Claim the row and, for a post Slack paces, a token of its channel's bucket, in one
        transaction: a worker that loses the row spends no token, and one that gets no
        token leaves the row as it was. Slack allows about one post per second per channel,
        with short bursts; the bucket is in the database, so every process posting there
        counts. When it is empty, this process does not ask again until a token is due (a
        flood's hundred lanes in one channel must not each take the write lock to learn it)."""
        try:
            with self.store.atomic():
                claimed = self.store.outbox.claim(effect.id, self.owner, now, LEASE, self.inflight)
                if claimed is not None and paced:
                    key, policy = pace_key(effect.lane), self.settings.outbox
                    wait = self.store.outbox.take_pace(
                        key, time.time(), policy.slack_posts_per_second, policy.slack_burst
                    )
                    if wait:
                        self._pace_due[key] = time.monotonic() + wait
                        raise _NoToken
                return claimed
        except _NoToken:
            return None

    def _fall_back_overdue(self, now: datetime) -> bool:
        """A row with a fallback (a page) still owed `page_fallback_minutes` after it was
        owed, whatever holds it up: its fallback now. Looked for once a second: the wait is
        minutes long, and a worker that asked before every delivery spent a query on it. A
        clock set back looks at once rather than waiting for it to catch up."""
        seen = self._overdue_seen
        if seen is not None and seen <= now < seen + OVERDUE_EVERY:
            return False
        self._overdue_seen = now  # before asking: the other workers need not ask too
        minutes = self.settings.outbox.page_fallback_minutes
        kinds = tuple(name for name, spec in self.kinds.items() if spec.fallback)
        for effect in self.store.outbox.overdue(kinds, now - timedelta(minutes=minutes), now):
            claimed = self.store.outbox.claim(
                effect.id, self.owner, now, LEASE, self.inflight, due_only=False
            )
            if claimed is None:
                continue
            why = f"not delivered within {minutes:g} min" + (
                f"; last error: {claimed.last_error}" if claimed.last_error else ""
            )
            self._fall_back(claimed, self.kinds[claimed.kind], why)
            self._overdue_seen = None  # there may be more: the next call looks again
            return True
        return False

    def _fall_back(self, effect: Effect, spec: Kind, error: str) -> None:
        assert self.deps is not None and spec.fallback is not None
        log.warning("outbox: #%s %s falls back (%s)", effect.id, effect.kind, error)
        with self.store.atomic():
            self.store.outbox.bury(effect.id, self.owner, error, self.clock(), state="fell_back")
            spec.fallback(self.deps, effect, error)

    def _deliver(self, effect: Effect) -> None:
        assert self.deps is not None, "start() first"
        spec = self.kinds.get(effect.kind)
        try:
            if spec is None:
                raise LookupError(f"no delivery for kind {effect.kind!r}")
            result = spec.deliver(self.deps, effect, self.slack)
        except Exception as exc:
            self._failed(effect, spec, exc)
            return
        self._record(effect, spec, result)
        log.info("outbox: delivered #%s %s", effect.id, effect.kind)

    def _record(self, effect: Effect, spec: Kind, result: dict[str, Any] | None) -> None:
        """Slack (or the third party) took it: record that, waiting out a busy database a few
        times (well within the row's lease) rather than leaving the row to be tried again and
        its post looked for among everything posted since."""
        assert self.deps is not None
        for wait in (*RECORD_WAITS, None):
            try:
                with self.store.atomic():
                    if spec.record is not None and result:
                        spec.record(self.deps, effect, result)
                    self.store.outbox.delivered(effect.id, self.owner, self.clock(), result)
                return
            except StoreBusy:
                if wait is None:
                    raise
                log.warning(
                    "outbox: #%s delivered; the database is busy, recording it again", effect.id
                )
                time.sleep(wait)

    def _failed(self, effect: Effect, spec: Kind | None, exc: Exception) -> None:
        policy = self.settings.outbox
        now = self.clock()
        error = failure_text(exc)
        deps = self.deps
        assert deps is not None
        if isinstance(exc, Dropped):
            log.warning("outbox: #%s %s dropped: %s", effect.id, effect.kind, error)
            self.store.outbox.bury(effect.id, self.owner, error, now, state="dropped")
            return
        passing = transient(exc)
        if not passing and not refused(exc):  # a fault of ours, not the other side's
            log.error("outbox: #%s %s failed", effect.id, effect.kind, exc_info=exc)
        if spec is not None and spec.fallback and not passing:
            self._fall_back(effect, spec, error)
            return
        waited = now - (effect.first_failed_at or now)
        if not passing or spec is None or waited >= timedelta(minutes=policy.give_up_minutes):
            self._give_up(effect, spec, error, "refused" if refused(exc) else "dead", now)
            return
        wait = retry_after(exc)
        if wait is None:
            wait = min(
                policy.backoff_cap_seconds, BACKOFF_BASE_SECONDS * 2 ** (effect.attempts - 1)
            )
            wait *= random.uniform(0.5, 1.0)
        if timed_out(exc):
            # The request may still land at Slack: give it that long before looking for it,
            # so the next try adopts it instead of posting twice.
            wait = max(wait, policy.timeout_seconds)
        log.warning(
            "outbox: #%s %s failed (%s); retry in %.1f s", effect.id, effect.kind, error, wait
        )
        with self.store.atomic():
            landed = failures.may_have_landed(exc)  # or the next try need not look for it
            due, owner = now + timedelta(seconds=wait), self.owner
            self.store.outbox.retry_at(effect.id, owner, due, error, now, may_have_landed=landed)
            if spec is not None and spec.on_failure:
                spec.on_failure(deps, effect, error, False)

    def _give_up(
        self, effect: Effect, spec: Kind | None, error: str, state: str, now: datetime
    ) -> None:
        log.error(
            "outbox: #%s %s is %s after %s attempts: %s",
            effect.id,
            effect.kind,
            state,
            effect.attempts,
            error,
        )
        assert self.deps is not None
        with self.store.atomic():
            self.store.outbox.bury(effect.id, self.owner, error, now, state=state)
            if spec is not None and spec.on_failure:
                spec.on_failure(self.deps, effect, error, True)

    def drain(self, timeout: float = 10.0) -> None:
        """Deliver everything that is due now, in this thread too, and wait for rows other
        threads hold: for tests, `run-job` and the console, which show what was posted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.deliver_one(paced=False):
                continue
            with self._done:
                if self._inflight:
                    self._done.wait(0.05)
                    continue
            if not self.store.outbox.claimable(self.clock(), limit=1):
                return
            time.sleep(0.01)  # due rows leased by another thread a moment ago
        raise TimeoutError("outbox: rows still undelivered after the drain's timeout")

    def wait_for(self, effect_id: int, timeout: float) -> dict[str, Any]:
        """Wait until one row is delivered and return its result (a post's channel and ts)."""
        deadline = time.monotonic() + timeout
        while True:
            effect = self.store.outbox.effect(effect_id)
            if effect is None or effect.state not in ("pending", "done"):
                raise OutboxGaveUp(effect.last_error if effect else "row gone")
            if effect.state == "done":
                return effect.result or {}
            if time.monotonic() > deadline:
                raise TimeoutError(f"outbox row {effect_id} not delivered in {timeout} s")
            if not self._threads:  # nobody else delivers here (run-job): do it ourselves
                self.deliver_one(paced=False)
            with self._done:
                self._done.wait(0.05)
