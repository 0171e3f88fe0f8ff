"""A lane (one channel, one incident's thread) is delivered in the order its rows were
committed, one row at a time, by whichever process claims it: on PostgreSQL too, where a
row's id is handed out before its transaction commits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.store import Store

LEASE = timedelta(seconds=30)


@pytest.mark.both_engines
def test_a_row_waits_for_its_turn_in_its_lane(store: Store) -> None:
    first = store.outbox.enqueue("slack.post", "slack:C1", {"n": 1})
    second = store.outbox.enqueue("slack.post", "slack:C1", {"n": 2})
    elsewhere = store.outbox.enqueue("slack.post", "slack:C2", {"n": 3})
    assert first and second and elsewhere
    now = datetime.now(UTC)
    assert store.outbox.claim(second, "w1", now, LEASE) is None  # the first is before it
    assert store.outbox.claim(first, "w1", now, LEASE) is not None
    assert store.outbox.claim(second, "w2", now, LEASE) is None  # the first is on its way
    assert store.outbox.claim(elsewhere, "w2", now, LEASE) is not None  # its own lane
    store.outbox.delivered(first, "w1", now)
    assert store.outbox.claim(second, "w2", now, LEASE) is not None


@pytest.mark.both_engines
def test_a_fallback_takes_a_row_out_of_turn(store: Store) -> None:
    first = store.outbox.enqueue("slack.post", "slack:C1", {"n": 1})
    page = store.outbox.enqueue("incident.page", "slack:C1", {"n": 2})
    assert first and page
    now = datetime.now(UTC)
    assert store.outbox.claim(first, "w1", now, LEASE) is not None
    assert store.outbox.claim(page, "w2", now, LEASE, due_only=False) is not None


def test_a_row_committed_late_with_an_earlier_id_waits_for_the_one_on_its_way(
    postgres_store_url: str,
) -> None:
    """Two commands owe rows in one lane at once; the one with the higher id commits first
    and is taken. When the other commits, it must wait for that one to be delivered."""
    store = Store(postgres_store_url)
    try:
        inside, later_committed = threading.Event(), threading.Event()
        ids: dict[str, int | None] = {}

        def slow_command() -> None:
            with store.atomic():
                ids["early"] = store.outbox.enqueue("slack.post", "slack:C1", {"n": 1})
                inside.set()
                later_committed.wait(10)

        slow = threading.Thread(target=slow_command)
        slow.start()
        inside.wait(10)
        ids["late"] = store.outbox.enqueue("slack.post", "slack:C1", {"n": 2})
        now = datetime.now(UTC)
        late, early = ids["late"], ids["early"]
        assert late is not None and early is not None and early < late
        assert store.outbox.claim(late, "w1", now, LEASE) is not None  # all the lane shows
        later_committed.set()
        slow.join()
        assert store.outbox.claim(early, "w2", now, LEASE) is None  # the lane is busy
        store.outbox.delivered(late, "w1", now)
        assert store.outbox.claim(early, "w2", now, LEASE) is not None
    finally:
        store.close()
