"""The outbox's rules on a real SQLite file: lanes, claims and leases, retries, dead rows,
one transaction per change, the write budget, bounded pools and shared runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.deps import Deps
from bot.pools import Busy, Pool, Shared
from bot.posting import enqueue_post
from bot.server import status
from bot.store import Store
from bot.tools.localslack import LocalSlack
from tests.conftest import Clock, make_deps


@pytest.mark.both_engines
def test_only_the_head_of_each_lane_is_claimable(store: Store) -> None:
    """Rows in one lane go one at a time, in order; other lanes do not wait for it."""
    first = store.outbox.enqueue("slack.post", "slack:#a", {"n": 1})
    store.outbox.enqueue("slack.post", "slack:#a", {"n": 2})
    other = store.outbox.enqueue("slack.post", "slack:#b", {"n": 3})
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert [e.id for e in store.outbox.claimable(later)] == [first, other]

    claimed = store.outbox.claim(first, "host:1:a", later, timedelta(seconds=30))
    assert claimed is not None and claimed.attempts == 1
    assert store.outbox.claim(first, "host:2:b", later, timedelta(seconds=30)) is None  # leased
    assert [e.id for e in store.outbox.claimable(later)] == [other]  # lane #a waits for its head
    # The owner died: when the lease runs out, another process takes the row.
    expired = later + timedelta(seconds=31)
    again = store.outbox.claim(first, "host:2:b", expired, timedelta(seconds=30))
    assert again is not None and again.attempts == 2


@pytest.mark.both_engines
def test_a_change_and_its_effects_commit_together_or_not_at_all(store: Store) -> None:
    """An error after the effect was written rolls the effect back with the change."""
    with pytest.raises(RuntimeError), store.atomic():
        store.set_state("changed", "yes")
        store.outbox.enqueue("slack.post", "slack:#a", {"text": "owed"})
        raise RuntimeError("the command failed half-way")
    assert store.state("changed") is None
    assert store.outbox.outbox_summary(datetime.now(UTC))["pending"] == 0


@pytest.mark.both_engines
def test_a_nested_failure_rolls_back_only_its_own_part(store: Store) -> None:
    with store.atomic():
        store.set_state("outer", "kept")
        with pytest.raises(ValueError), store.atomic():
            store.set_state("inner", "dropped")
            raise ValueError
    assert (store.state("outer"), store.state("inner")) == ("kept", None)


def test_retry_after_pauses_only_its_own_lane(deps: Deps, slack: LocalSlack) -> None:
    """A 429 on one channel: its row waits Retry-After; the other channel's post goes out."""
    slack.fault(method="chat.postMessage", channel="#digest", retry_after=30)
    with deps.store.atomic():
        enqueue_post(deps, "#digest", {"text": "slow lane"})
        enqueue_post(deps, "#incidents", {"text": "fast lane"})
    deps.outbox.drain()
    assert [m.text for m in slack.history("#incidents")] == ["fast lane"]
    [waiting] = deps.store.outbox.effects(("pending",))
    assert waiting.lane == "slack:#digest" and "ratelimited" in str(waiting.last_error)
    assert waiting.due_at - datetime.now(UTC) > timedelta(seconds=25)


def test_a_row_failing_past_the_give_up_time_is_dead_and_healthz_says_so(
    tmp_path: Path, slack: LocalSlack
) -> None:
    """An old waiting row makes /healthz degraded; one failing past the give-up time is
    dead, with the reason kept."""
    store = Store(tmp_path / "o.db")
    store.migrate()
    settings = Settings(
        opsbot_db=tmp_path / "o.db",
        slack_api_url=slack.api_base,
        outbox={
            "give_up_minutes": 0.0001,
            "degraded_after_seconds": 0.05,
            "backoff_cap_seconds": 0.05,
        },
    )
    deps = make_deps(settings, store, slack, Clock())
    outbox = deps.outbox
    slack.fault(method="chat.postMessage", status=500)
    with store.atomic():
        enqueue_post(deps, "#incidents", {"text": "never arrives"})
    time.sleep(0.1)
    degraded = status(deps, lambda: True)
    assert degraded["status"] == "degraded" and degraded["outbox"]["pending"] == 1
    outbox.deliver_one(paced=False)  # first failure: retried
    assert store.outbox.effects(("pending",))[0].last_error == "Slack internal_error (HTTP 500)"
    time.sleep(0.1)  # the backoff, and past the give-up time
    outbox.deliver_one(paced=False)
    assert status(deps, lambda: True)["outbox"]["dead"] == 1
    [dead] = store.outbox.effects(("dead",))
    assert dead.last_error == "Slack internal_error (HTTP 500)" and dead.attempts == 2


@pytest.mark.both_engines
def test_the_pace_allows_a_burst_then_one_a_second(store: Store) -> None:
    def take(channel: str, at: float) -> bool:
        return store.outbox.take_pace(channel, at, per_second=1, burst=3) == 0.0

    assert [take("slack:#a", 100.0) for _ in range(4)] == [True, True, True, False]
    assert take("slack:#b", 100.0)  # another channel has its own bucket
    assert store.outbox.take_pace("slack:#a", 100.5, 1, 3) == pytest.approx(
        0.5
    )  # the next token's wait
    assert not take("slack:#a", 100.5) and take("slack:#a", 101.0)  # one a second
    assert [take("slack:#a", 110.0) for _ in range(4)] == [True, True, True, False]
    assert (
        Store(store.path).outbox.take_pace("slack:#a", 110.0, 1, 3) > 0
    )  # one bucket per database
    # a clock stepped back an hour starts afresh, rather than holding posts for an hour
    assert [take("slack:#a", 110.0 - 3600) for _ in range(4)] == [True, True, True, False]


@pytest.mark.both_engines
def test_the_pace_keeps_fractions_of_a_second_at_todays_clock(store: Store) -> None:
    """The bucket's times are epoch seconds (about 1.8e9): a token is due a second after the
    last one, not whenever a coarsely stored time says (a 4-byte float keeps 128 s steps)."""
    start = 1_800_000_000.3

    def take(at: float) -> bool:
        return store.outbox.take_pace("slack:#a", at, per_second=1, burst=3) == 0.0

    assert [take(start) for _ in range(4)] == [True, True, True, False]
    assert store.outbox.take_pace("slack:#a", start + 0.5, 1, 3) == pytest.approx(0.5, abs=1e-3)
    assert take(start + 1.0) and not take(start + 1.5)


@pytest.mark.both_engines
def test_waiting_rows_coalesce_and_a_page_takes_its_lane_first(store: Store) -> None:
    """A row not yet claimed covers a later one of its kind; a lane holding a page goes
    first, what is ahead of the page in its lane too."""
    card = store.outbox.enqueue("card", "slack:#inc-7", {}, incident=7)
    assert store.outbox.enqueue("card", "slack:#inc-7", {}, incident=7, coalesce=True) is None
    digest = store.outbox.enqueue("digest", "slack:#ops", {})
    assert store.outbox.enqueue("digest", "slack:#ops", {}, coalesce=True) is None
    ahead = store.outbox.enqueue("post", "slack:#b", {})
    page = store.outbox.enqueue("page", "slack:#b", {}, priority=1)
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert {head.lane for head in store.outbox.heads(now) if head.urgent} == {"slack:#b"}
    assert [e.id for e in store.outbox.claimable(now)] == [ahead, card, digest]
    assert store.outbox.has_pending(7, "card") and not store.outbox.has_pending(7, "digest")
    assert store.outbox.claim(card, "h:1:a", now, timedelta(seconds=30)) is not None
    again = store.outbox.enqueue("card", "slack:#inc-7", {}, incident=7, coalesce=True)
    assert again is not None  # the claimed row may have rendered before the change
    assert store.outbox.latest_effect(7, "card").id == again  # type: ignore[union-attr]
    assert [e.id for e in store.outbox.overdue(("page",), now, now)] == [page]


@pytest.mark.both_engines
def test_freeing_a_gone_owners_rows_passes_over_a_row_being_claimed(
    store: Store, database: str
) -> None:
    """Another process holds one of the dead process's rows (claiming it as its lease ran
    out): the release frees the others at once instead of waiting on that one past the
    write budget (it made a restarting serve fail to start in a soak)."""
    if store.sqlite:
        pytest.skip("SQLite's writers take turns: no row is held while another writes")
    import sqlalchemy as sa

    rows = [store.outbox.enqueue("post", f"slack:#{n}", {}) for n in range(2)]
    now, lease = datetime.now(UTC), timedelta(seconds=30)
    for row in rows:
        assert row is not None and store.outbox.claim(row, "gone:1:x", now, lease)
    other = sa.create_engine(database).connect()
    other.exec_driver_sql(f"SELECT id FROM outbox WHERE id = {rows[0]} FOR UPDATE")
    try:
        assert store.outbox.release_owner("gone:1:x") == 1
    finally:
        other.rollback()
        other.close()
    assert store.outbox.lease_owners() == ["gone:1:x"]  # the one held, left to its lease
    assert store.outbox.release_owner("gone:1:x") == 1


@pytest.mark.both_engines
def test_a_row_remembers_only_the_tries_that_may_have_reached_slack(store: Store) -> None:
    """A try cut short, or answered with an error after which Slack may have posted, leaves
    its window (its claim until its request could have landed) for the next try to look in;
    a try Slack said no to leaves none."""
    row = store.outbox.enqueue("post", "slack:#a", {})
    assert row is not None
    start = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    lease, inflight = timedelta(seconds=30), timedelta(seconds=10)

    def claim(at: datetime) -> tuple[tuple[datetime, datetime], ...]:
        claimed = store.outbox.claim(row, "h:1:x", at, lease, inflight, due_only=False)
        assert claimed is not None
        return claimed.unsure

    assert claim(start) == ()  # the first try: nothing before it
    # ... its process died; the row is claimed again once its lease ran out
    second = start + timedelta(minutes=1)
    assert claim(second) == ((start, start + inflight),)
    store.outbox.retry_at(
        row, "h:1:x", second, "ratelimited (HTTP 429)", second, may_have_landed=False
    )
    third = start + timedelta(minutes=2)
    assert claim(third) == ((start, start + inflight),)  # the 429'd try posted nothing
    store.outbox.retry_at(row, "h:1:x", third, "internal_error (HTTP 503)", third)
    fourth = start + timedelta(minutes=3)
    assert claim(fourth) == ((start, start + inflight), (third, third + inflight))


@pytest.mark.both_engines
def test_a_gone_owners_rows_wait_until_its_last_request_would_have_landed(store: Store) -> None:
    """Released rows are due when the dead process's last call could still reach Slack, and
    no earlier than they were due."""
    slow, later = (
        store.outbox.enqueue("post", "slack:#a", {}),
        store.outbox.enqueue("page", "slack:#b", {}),
    )
    assert slow is not None and later is not None
    now, lease, inflight = (
        datetime.now(UTC) + timedelta(seconds=1),
        timedelta(seconds=30),
        timedelta(seconds=10),
    )
    store.outbox.claim(slow, "gone:1:x", now, lease, inflight)
    store.outbox.claim(later, "h:2:y", now, lease)
    store.outbox.retry_at(later, "h:2:y", now + timedelta(hours=1), "HTTP 503", now)
    assert store.outbox.claim(later, "gone:1:x", now, lease, inflight, due_only=False)  # a fallback
    store.inbox.receive("Ev1", "{}", now)
    assert store.inbox.claim_inbox("gone:1:x", now, lease) is not None
    assert store.outbox.lease_owners() == ["gone:1:x"]
    assert store.outbox.release_owner("gone:1:x") == 3
    assert store.outbox.effect(slow).due_at == now + inflight  # type: ignore[union-attr]
    assert store.outbox.effect(later).due_at == now + timedelta(hours=1)  # type: ignore[union-attr]
    assert store.outbox.lease_owners() == []
    assert store.inbox.claim_inbox("h:2:y", now, lease) is not None


@pytest.mark.both_engines
def test_the_inbox_keeps_one_row_per_event_and_takes_the_oldest_due(store: Store) -> None:
    """A delivery Slack retries is stored once; claims take the oldest due event, and a
    failed one waits for its retry time."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert store.inbox.receive("Ev1", "{}", now) and not store.inbox.receive("Ev1", "{}", now)
    assert store.inbox.receive("Ev2", "{}", now)
    first = store.inbox.claim_inbox("h:1:a", now, timedelta(seconds=30))
    assert first is not None and first.event_id == "Ev1" and first.attempts == 1
    store.inbox.inbox_retry(first.id, "h:1:a", now + timedelta(minutes=1), "boom", now)
    second = store.inbox.claim_inbox("h:1:a", now, timedelta(seconds=30))
    assert second is not None and second.event_id == "Ev2"
    assert store.inbox.claim_inbox("h:2:b", now, timedelta(seconds=30)) is None  # Ev1 not yet due
    store.inbox.inbox_done(second.id, "h:1:a", now)
    assert store.inbox.inbox_pending() == 1
    assert store.inbox.inbox_summary(now + timedelta(seconds=5)) == {
        "pending": 1,
        "oldest_seconds": 5.0,
        "dead": 0,
    }
    retried = store.inbox.claim_inbox("h:2:b", now + timedelta(minutes=1), timedelta(seconds=30))
    assert retried is not None and retried.attempts == 2 and retried.last_error == "boom"


def test_a_full_pool_says_busy_at_once() -> None:
    pool = Pool("test", threads=1, queue=1, noun="backups")
    gate = threading.Event()
    pool.submit(gate.wait)
    pool.submit(gate.wait)
    with pytest.raises(Busy, match="busy: 2 backups already running or waiting"):
        pool.submit(gate.wait)
    gate.set()
    assert pool.wait_idle(5)
    pool.submit(lambda: None)  # room again
    pool.shutdown()


def test_callers_share_one_run_in_flight() -> None:
    """Fifty callers while one slow run is in flight: one run, fifty answers."""
    runs = []

    def slow() -> int:
        runs.append(1)
        time.sleep(0.3)
        return 42

    pool = Pool("probe", threads=1, queue=1, noun="checks")
    shared: Shared[int] = Shared(slow, reuse_seconds=0, pool=pool)
    answers: list[int] = []
    lock = threading.Lock()

    def deliver(value: int) -> None:
        with lock:
            answers.append(value)

    for _ in range(50):
        shared.request(deliver, lambda exc: None)
    assert pool.wait_idle(5)
    assert runs == [1] and answers == [42] * 50
    pool.shutdown()


def opsbot(*args: str, db: Path, table: str = "outbox") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    env["OPSBOT_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "bot", table, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_opsbot_outbox_lists_retries_and_drops(tmp_path: Path) -> None:
    db = tmp_path / "opsbot.db"
    store = Store(db)
    store.migrate()
    row = store.outbox.enqueue("pagerduty", "pagerduty", {"action": "trigger"}, incident=None)
    assert row is not None
    claimed = store.outbox.claim(row, "h:1:x", datetime.now(UTC), timedelta(seconds=1))
    assert claimed is not None
    store.outbox.bury(row, "h:1:x", "HTTP 503", datetime.now(UTC))

    listed = opsbot(db=db)
    assert listed.returncode == 0
    assert "0 waiting" in listed.stdout and "1 dead" in listed.stdout
    assert f"#{row}" in listed.stdout and "last error: HTTP 503" in listed.stdout

    assert opsbot("retry", str(row), db=db).stdout.strip() == f"#{row} back in line."
    assert store.outbox.effect(row).state == "pending"  # type: ignore[union-attr]
    assert opsbot("drop", str(row), db=db).stdout.strip() == f"#{row} dropped."
    refused = opsbot("drop", str(row), db=db)
    assert refused.returncode == 1 and "nothing changed" in refused.stdout
    assert opsbot("retry", db=db).returncode == 2


def test_opsbot_inbox_lists_dead_events_and_retries_or_drops_them(tmp_path: Path) -> None:
    """An event given up on is listed with its last error; retry puts it back in line, due
    now; drop ends it."""
    db = tmp_path / "opsbot.db"
    store = Store(db)
    store.migrate()
    now = datetime.now(UTC)
    store.inbox.receive("Ev1", '{"event": {"type": "reaction_added"}}', now)
    claimed = store.inbox.claim_inbox("h:1:x", now, timedelta(seconds=30))
    assert claimed is not None
    store.inbox.inbox_bury(claimed.id, "h:1:x", "Slack service_unavailable", now)
    listed = opsbot(db=db, table="inbox")
    assert "0 waiting" in listed.stdout and "1 dead" in listed.stdout
    assert "reaction_added" in listed.stdout and "service_unavailable" in listed.stdout
    assert opsbot("retry", str(claimed.id), db=db, table="inbox").stdout.strip() == (
        f"#{claimed.id} back in line."
    )
    again = store.inbox.claim_inbox("h:2:y", datetime.now(UTC), timedelta(seconds=30))
    assert again is not None and again.attempts == 2
    store.inbox.inbox_bury(again.id, "h:2:y", "Slack service_unavailable", datetime.now(UTC))
    assert opsbot("drop", str(again.id), db=db, table="inbox").returncode == 0
    assert store.inbox.inbox_summary(datetime.now(UTC)) == {
        "pending": 0,
        "oldest_seconds": 0.0,
        "dead": 0,
    }


def test_an_error_after_ack_keeps_the_answer(app, slack: LocalSlack) -> None:  # type: ignore[no-untyped-def]
    """Bolt resets an ack when the listener raises afterwards, and Slack then gets a 404 after
    3 s. A listener that acked keeps its answer; the error is told through respond()."""
    from slack_bolt import BoltRequest

    from bot.app import keep_ack
    from bot.pools import Busy
    from bot.tools.localslack import signed_headers, slash_command
    from tests.conftest import SECRET

    def acks_then_fails(ack, respond) -> None:  # type: ignore[no-untyped-def]
        ack(text="Started")
        raise Busy("busy: 3 backups already running or waiting")

    app.command("/boom")(keep_ack(acks_then_fails))
    body = slash_command(
        "/boom", "", user="U1", user_name="u", channel="C1", response_url=slack.response_url()
    )
    headers = {**signed_headers(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    began = time.monotonic()
    answer = app.dispatch(BoltRequest(body=body, headers=headers))
    assert answer.status == 200 and "Started" in answer.body
    assert time.monotonic() - began < 2  # not Bolt's 3-second wait for a lost ack
    [told] = slack.wait_for_responses(1)
    assert told["text"] == ":warning: busy: 3 backups already running or waiting"


def test_an_error_before_ack_still_reaches_the_error_handler() -> None:
    """keep_ack only catches what comes after ack(): before it, Bolt's error handler answers."""
    from types import SimpleNamespace

    from bot.app import keep_ack

    def fails(ack, respond) -> None:  # type: ignore[no-untyped-def]
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        keep_ack(fails)(ack=SimpleNamespace(response=None), respond=None)
    told: list[dict[str, object]] = []
    keep_ack(fails)(ack=SimpleNamespace(response="acked"), respond=lambda **kw: told.append(kw))
    assert told and str(told[0]["text"]).startswith(":boom: Something went wrong (ref ")


@pytest.mark.both_engines
def test_a_row_put_back_with_a_later_due_time_is_not_taken_early(store: Store) -> None:
    """Worker A lists the row; worker B takes it, fails (429) and puts it back due in 20 s;
    A's claim must not take it now (it once did, ignoring Retry-After)."""
    row = store.outbox.enqueue("statuspage", "statuspage", {})
    assert row is not None
    now = datetime.now(UTC) + timedelta(seconds=1)
    listed = store.outbox.claimable(now)  # worker A
    assert [e.id for e in listed] == [row]
    assert store.outbox.claim(row, "h:2:b", now, timedelta(seconds=30)) is not None  # worker B
    store.outbox.retry_at(row, "h:2:b", now + timedelta(seconds=20), "HTTP 429", now)
    assert store.outbox.claim(row, "h:1:a", now, timedelta(seconds=30)) is None  # A, too late
    assert store.outbox.claim(row, "h:1:a", now + timedelta(seconds=21), timedelta(seconds=30))


PACE = {"slack_posts_per_second": 0.001, "slack_burst": 1}  # one post, then none for long


@pytest.fixture
def paced(settings: Settings, store: Store, slack: LocalSlack) -> Iterator[Deps]:
    """Deps whose channels each take one post, then none for long."""
    built = make_deps(
        Settings(opsbot_db=settings.opsbot_db, outbox=PACE), store, slack, Clock(datetime.now(UTC))
    )
    yield built
    built.pools.shutdown()


def test_a_post_with_no_token_left_is_not_claimed_and_spends_nothing(
    paced: Deps, store: Store, slack: LocalSlack
) -> None:
    """The claim and the channel's token are one transaction: with the bucket empty the row
    stays as it was (no attempt counted, no owner)."""
    deps = paced
    with store.atomic():
        enqueue_post(deps, "#incidents", {"text": "first"})
        store.outbox.enqueue("slack.post", "slack:#incidents/INC-1", {"channel": "#incidents"})
    assert deps.outbox.deliver_one(paced=True)
    assert not deps.outbox.deliver_one(paced=True)  # the bucket is empty
    [waiting] = store.outbox.effects(("pending",))
    assert waiting.attempts == 0 and waiting.first_claimed_at is None
    assert [m.text for m in slack.history("#incidents")] == ["first"]


def test_a_worker_that_loses_the_row_spends_no_token(paced: Deps, store: Store) -> None:
    """Another process claimed the row between the listing and this claim: the channel's
    only token is still there for the next post."""
    deps = paced
    with store.atomic():
        enqueue_post(deps, "#incidents", {"text": "first"})
    now = datetime.now(UTC)
    [listed] = store.outbox.claimable(now)
    assert store.outbox.claim(listed.id, "another-process", now, timedelta(minutes=1))
    assert deps.outbox._claim(listed, now, paced=True) is None  # noqa: SLF001
    rate, burst = PACE["slack_posts_per_second"], int(PACE["slack_burst"])
    assert store.outbox.take_pace("slack:#incidents", time.time(), rate, burst) == 0.0


def test_a_delivery_slack_took_is_recorded_through_a_busy_database(
    deps: Deps, slack: LocalSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack took the post, then the database was busy (another session's lock): the row is
    recorded once the database answers, not left to be posted again after its lease."""
    from bot.store import StoreBusy

    with deps.store.atomic():
        enqueue_post(deps, "#incidents", {"text": "posted once"})
    record = deps.store.outbox.delivered
    busy = [2]

    def delivered(*args: object, **kwargs: object) -> None:
        if busy[0]:
            busy[0] -= 1
            raise StoreBusy
        record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deps.store.outbox, "delivered", delivered)
    deps.outbox.drain()
    assert [m.text for m in slack.history("#incidents")] == ["posted once"]
    assert busy == [0] and deps.store.outbox.effects(("pending",)) == []


def test_a_row_tried_before_is_not_posted_while_slack_cannot_say_whether_it_was(
    deps: Deps, slack: LocalSlack
) -> None:
    """An earlier try may have reached Slack; while Slack cannot be asked (503 on the
    history), the row waits rather than posting blind; then it is posted once."""
    with deps.store.atomic():
        row = enqueue_post(deps, "#incidents", {"text": "maybe posted"})
    assert row is not None
    now = datetime.now(UTC)
    earlier = now - timedelta(minutes=1)  # a try that did not finish, its lease run out
    assert deps.store.outbox.claim(row, "gone", earlier, timedelta(0), due_only=False)
    slack.post("#incidents", "U0SOMEONE", "someone else's message")
    deps.store.set_state("slack.channel.#incidents", slack.channel_id("#incidents"))
    fault = slack.fault(method="conversations.history", status=503)
    deps.outbox.drain(timeout=2)
    assert fault.hits and [m.text for m in slack.history("#incidents")][1:] == []
    [waiting] = deps.store.outbox.effects(("pending",))
    assert "503" in str(waiting.last_error)
    slack.clear_faults()
    deps.store.outbox.retry_effect(row, datetime.now(UTC))
    deps.outbox.drain()
    assert [m.text for m in slack.history("#incidents")][1:] == ["maybe posted"]
