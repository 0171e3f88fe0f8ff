"""Two `opsbot serve` on one PostgreSQL database: the leader killed or paused while its work
is due, and the standby takes over. Every page is sent once, a scheduled job runs once, no
card is doubled and nothing is lost; a leader that wakes after losing the lease does
nothing as leader.

The lease is 2 s here (`[leader] lease_seconds`), so a takeover after a pause takes about
3 s, not the 20 s of the default 15 s lease; PAUSE_SECONDS sets how long the leader is
stopped (6 s here; 40 s is the longer run)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.incidents import service
from bot.lanes import slack_lane
from bot.store import Store
from bot.tools.localslack import LocalSlack
from jobs import INSTALLED_KEY
from tests.e2e.conftest import Server
from tests.e2e.fakes import ThirdParty
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP

LEASE = 2.0
PAUSE = float(os.environ.get("PAUSE_SECONDS", "6"))
# The API the leader's digest waits on answers after this (its timeout is at most 20 s): while
# the leader is stopped, or just after, so it goes on with the digest only once it wakes.
HANG = min(PAUSE + 2, 16.0)
ALICE = "U0ALICE01"
ROWS = 50


class Pair:
    """The two processes, their database, and what the leader's scheduled job reads."""

    def __init__(self, workspace: LocalSlack, tmp_path: Path, url: str) -> None:
        self.workspace, self.url, self.tmp = workspace, url, tmp_path
        self.store = Store(url)
        self.api = ThirdParty()
        self.api.always = ("hang", HANG)  # the daily digest waits on it: a job under way
        now = datetime.now(UTC)
        self.store.set_state(INSTALLED_KEY, (now - timedelta(minutes=10)).isoformat())
        due = now - timedelta(minutes=2)
        config = tmp_path / "opsbot.toml"
        config.write_text(
            f'[digest]\ndaily_time = "{due:%H:%M}"\ndaily_days = [0, 1, 2, 3, 4, 5, 6]\n'
            f"[health]\ntimeout_seconds = {HANG + 3}\n"
            f"[leader]\nlease_seconds = {LEASE}\n"
            # Slack's pace raised: 50 posts go out in well under a second, so a kill finds
            # some delivered, some on their way and some waiting.
            "[outbox]\ntimeout_seconds = 2\nslack_posts_per_second = 1000\nslack_burst = 1000\n"
        )
        env = {"OPSBOT_CONFIG": str(config), "PROMPTBASE_API_URL": self.api.url}
        self.a = Server(workspace, url, tmp_path / "a.log", env=env, verbose=True)
        self.b = Server(workspace, url, tmp_path / "b.log", env=env, verbose=True)

    def role(self, server: Server) -> dict[str, Any]:
        body: dict[str, Any] = HTTP.get(server.url + "/healthz", timeout=5).json()
        return body

    def start(self) -> None:
        """A first, leading, with the daily digest under way; then B, standing by."""
        self.a.start()
        wait_until(lambda: self.role(self.a)["role"] == "leader")
        wait_until(self._digest_running, timeout=10)
        self.b.start()
        assert self.role(self.b)["role"] == "standby"
        assert self.role(self.b)["lease"]["holder"] == self.role(self.a)["lease"]["holder"]

    def _digest_running(self) -> bool:
        runs = self.store.jobs.job_runs("daily-digest")
        return bool(runs) and runs[0].status == "running"

    def owe(self) -> int:
        """What falls due now: a P0 past its response target (a breach to page), and 50
        posts to deliver; returns the incident's number."""
        settings = Settings(opsbot_database_url=self.url)
        past = datetime.now(UTC) - timedelta(minutes=20)
        incident = service.open_incident(
            self.store, settings, title="Checkout down", severity="P0", actor=ALICE, now=past
        )
        with self.store.atomic():
            for n in range(ROWS):
                post = {
                    "channel": "#incidents",
                    "thread_ts": None,
                    "text": f"row {n} of the backlog",
                }
                self.store.outbox.enqueue("slack.post", slack_lane("#incidents"), post)
        return incident.number

    def done(self, number: int) -> bool:
        incident = self.store.incidents.incident(number)
        runs = self.store.jobs.job_runs("daily-digest")
        pending = self.store.outbox.outbox_summary(datetime.now(UTC))["pending"]
        return bool(incident.breached_at) and runs[0].status == "ok" and pending == 0

    def check_once(self, number: int) -> None:
        """Each owed effect in Slack exactly once."""
        history = self.workspace.history("#incidents")
        rows = Counter(m.text for m in history if "of the backlog" in m.text)
        assert len(rows) == ROWS and set(rows.values()) == {1}, rows
        cards = [
            m
            for m in history
            if not m.thread_ts and (m.metadata or {}).get("event_payload", {}).get("incident")
        ]
        assert len(cards) == 1, [m.text for m in cards]
        pages = [m for m in history if m.thread_ts == cards[0].ts and "*Page:*" in m.text]
        assert len(pages) == 1, [m.text for m in pages]
        assert len([m for m in history if "check ·" in m.text]) == 1  # one daily digest
        breaches = [e for e in self.store.incidents.timeline(number) if e.kind == "breach"]
        assert len(breaches) == 1

    def stop(self) -> None:
        for server in (self.a, self.b):
            if server.proc is not None and server.proc.poll() is None:
                server.proc.send_signal(signal.SIGCONT)
            server.stop()
        self.api.close()
        self.store.close()


@pytest.fixture
def pair(workspace: LocalSlack, tmp_path: Path, postgres_store_url: str) -> Iterator[Pair]:
    running = Pair(workspace, tmp_path, postgres_store_url)
    yield running
    running.stop()


def test_the_standby_leads_when_the_leader_is_killed_and_does_its_due_work_once(
    pair: Pair,
) -> None:
    pair.workspace.latency = 0.05  # posts on their way when the kill comes
    pair.start()
    number = pair.owe()
    pair.a.kill()
    killed = time.monotonic()
    pair.api.always = None
    wait_until(lambda: pair.role(pair.b)["role"] == "leader", timeout=30)
    took = time.monotonic() - killed
    assert took < 30
    wait_until(lambda: pair.done(number), timeout=30)
    time.sleep(1)  # anything doubled would show by now
    pair.check_once(number)
    notice = [m.text for m in pair.workspace.history("#incidents") if "did not finish" in m.text]
    assert len(notice) == 1 and "running it again now" in notice[0]
    assert pair.role(pair.b)["lease"]["token"] == 2


def test_a_paused_leader_wakes_as_a_standby_and_does_nothing_twice(pair: Pair) -> None:
    """SIGSTOP the leader while its digest runs; the standby leads once the lease runs out,
    runs the digest again and pages the breach. After SIGCONT the old leader's digest gets
    its answer, and writes nothing: it no longer holds the lease."""
    pair.start()
    assert pair.a.proc is not None
    pair.a.proc.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    pair.api.always = None
    number = pair.owe()
    wait_until(lambda: pair.role(pair.b)["role"] == "leader", timeout=LEASE * 4)
    assert time.monotonic() - stopped >= LEASE * 0.8  # it waited for the lease to run out
    wait_until(lambda: pair.done(number), timeout=30)
    time.sleep(max(0.0, PAUSE - (time.monotonic() - stopped)))
    pair.a.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: "lost the lease" in pair.a.log.read_text(), timeout=LEASE * 2)
    assert pair.role(pair.a)["role"] == "standby"
    time.sleep(max(0.0, HANG + 1 - (time.monotonic() - stopped)))  # its digest's answer came
    # it went on with its digest, and was refused at its first write
    wait_until(lambda: "daily-digest due" in pair.a.log.read_text(), timeout=5)
    assert "stopped, this process no longer leads" in pair.a.log.read_text()
    pair.check_once(number)
    assert pair.role(pair.b)["role"] == "leader"
