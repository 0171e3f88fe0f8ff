"""Two `opsbot serve` on one PostgreSQL answer Slack together: twenty people typing at once,
spread over both, and the database stopped under their feet. Every answer within Slack's
3 seconds, every acknowledged incident kept, numbered without gaps, with one card each.

TWO_SERVES_SECONDS sets how long the clients type (5 s here; 60 s is the longer run) and
OUTAGE_SECONDS how long the database is down (10 s)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.store import Store
from bot.tools.localslack import LocalSlack, signed_headers, slash_command
from tests.e2e.conftest import SECRET, Server
from tests.e2e.test_serve import wait_until
from tests.postgres import Cluster

CLIENTS = 20
SECONDS = float(os.environ.get("TWO_SERVES_SECONDS", "5"))
OUTAGE = float(os.environ.get("OUTAGE_SECONDS", "10"))
OPENED = re.compile(r"INC-(\d+) opened as P3: (load \d+-\d+)")


@dataclass(frozen=True)
class Answer:
    server: int
    title: str
    status: int
    text: str
    seconds: float


def type_away(servers: list[Server], until: threading.Event, every: float = 0.0) -> list[Answer]:
    """CLIENTS people each opening incidents one after another (`every` seconds apart, or
    as fast as they are answered), alternating between the servers, until `until` is set."""
    answers: list[Answer] = []
    lock = threading.Lock()
    workspace = servers[0].workspace

    def client(number: int) -> None:
        with httpx.Client(timeout=10) as http:
            sent = 0
            while not until.is_set():
                which = (number + sent) % len(servers)
                title = f"load {number}-{sent}"
                body = slash_command(
                    "/incident",
                    f"open P3 {title}",
                    user=f"U0LOAD{number:03d}",
                    user_name="load",
                    channel="C0LOAD",
                    response_url=workspace.response_url(),
                )
                headers = {
                    **signed_headers(body, SECRET),
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                began = time.monotonic()
                reply = http.post(
                    servers[which].url + "/slack/events", content=body.encode(), headers=headers
                )
                took = time.monotonic() - began
                with lock:
                    answers.append(Answer(which, title, reply.status_code, reply.text, took))
                sent += 1
                until.wait(every)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def opened(answers: list[Answer]) -> dict[int, str]:
    """Incident number -> title, for every answer that said it was opened."""
    found = {}
    for answer in answers:
        said = OPENED.search(answer.text)
        if said:
            assert int(said.group(1)) not in found, "one number given twice"
            found[int(said.group(1))] = said.group(2)
    return found


def check_kept(store: Store, workspace: LocalSlack, acked: dict[int, str]) -> None:
    """Every acknowledged incident is in the database under its number, with one card."""
    for number, title in acked.items():
        incident = store.incidents.incident(number)
        assert incident is not None and incident.title == title, number
    wait_until(lambda: len(cards(workspace)) >= len(acked), timeout=60)
    time.sleep(0.5)  # a doubled card would show by now
    shown = Counter(cards(workspace))
    assert set(shown) == set(acked) and set(shown.values()) == {1}


def cards(workspace: LocalSlack) -> list[int]:
    return [
        int(m.metadata["event_payload"]["incident"])
        for m in workspace.history("#incidents")
        if not m.thread_ts and (m.metadata or {}).get("event_payload", {}).get("incident")
    ]


def two(workspace: LocalSlack, tmp_path: Path, url: str) -> list[Server]:
    config = tmp_path / "opsbot.toml"
    # Slack's pace raised: the cards of a few hundred incidents go out within the test.
    config.write_text("[outbox]\nslack_posts_per_second = 1000\nslack_burst = 1000\n")
    env = {"OPSBOT_CONFIG": str(config)}
    return [
        Server(workspace, url, tmp_path / f"{name}.log", env=env, verbose=True).start()
        for name in "ab"
    ]


@pytest.fixture
def servers(
    workspace: LocalSlack, tmp_path: Path, postgres_store_url: str
) -> Iterator[list[Server]]:
    running = two(workspace, tmp_path, postgres_store_url)
    yield running
    for server in running:
        server.stop()


def test_twenty_clients_over_both_serves_get_gapless_unique_incidents(
    servers: list[Server], workspace: LocalSlack
) -> None:
    stop = threading.Event()
    threading.Timer(SECONDS, stop.set).start()
    answers = type_away(servers, stop)
    slowest = max(a.seconds for a in answers)
    print(f"{len(answers)} commands over {SECONDS:g} s, the slowest answered in {slowest:.2f} s")
    assert {a.status for a in answers} == {200}
    assert slowest < 3
    assert {a.server for a in answers} == {0, 1}
    acked = opened(answers)
    assert len(acked) == len(answers)  # one ack each, every one an incident
    assert sorted(acked) == list(range(1, len(answers) + 1))  # numbered without gaps
    assert sorted(acked.values()) == sorted(a.title for a in answers)
    store = Store(servers[0].db)
    try:
        check_kept(store, workspace, acked)
    finally:
        store.close()


def test_both_serves_keep_answering_through_a_database_outage(
    workspace: LocalSlack, tmp_path: Path, own_postgres_cluster: Cluster
) -> None:
    """PostgreSQL stopped for OUTAGE seconds while people type: each answer within 3 s (a
    "busy, nothing was changed" is fine), /healthz 503 meanwhile, both reconnect by
    themselves, and every incident that was acknowledged is kept, with its card."""
    url = own_postgres_cluster.create_database("outage")
    store = Store(url)
    store.migrate()
    running = two(workspace, tmp_path, url)
    try:
        stop = threading.Event()
        answers: list[Answer] = []
        # twenty people, each sending a command a second
        typing = threading.Thread(target=lambda: answers.extend(type_away(running, stop, 1.0)))
        typing.start()
        time.sleep(1)
        own_postgres_cluster.pause()
        down = time.monotonic()
        wait_until(
            lambda: all(
                httpx.get(s.url + "/healthz", timeout=3).status_code == 503 for s in running
            ),
            timeout=OUTAGE,
        )
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))
        own_postgres_cluster.resume()
        time.sleep(3)  # typing on once it is back
        stop.set()
        typing.join()
        assert {a.status for a in answers} == {200}
        assert max(a.seconds for a in answers) < 3
        busy = [a for a in answers if not OPENED.search(a.text)]
        assert busy and all("nothing was changed" in a.text for a in busy)
        acked = opened(answers)
        after = [a for a in answers[-CLIENTS:] if OPENED.search(a.text)]
        assert after, "neither serve took a command again once the database was back"
        wait_until(
            lambda: all(
                httpx.get(s.url + "/healthz", timeout=3).json()["store"] == "ok" for s in running
            ),
            timeout=15,
        )
        check_kept(store, workspace, acked)
    finally:
        for server in running:
            server.stop()
        store.close()
