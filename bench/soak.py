"""Soak: mixed load on a real `opsbot serve` while Slack, PagerDuty and the database fail and
the process is killed; then count what was owed, delivered, duplicated and lost.

20 clients send /incident open and update, button clicks, :pushpin: events and /health for
DURATION seconds, against the local Slack stand-in (10 ms per call). An event Slack gets no
2xx for is sent again, as Slack does (here after 1, 2 and 4 s). Short faults come and go all
the time: Slack 503s, 429s on #incidents, slow answers, layouts Slack refuses for good
(`invalid_blocks` on anything with blocks), another process holding the database's write
lock for 3-5 s, PagerDuty 500s. On top, at set points of the run:

- 1/6: Slack takes 0.5-3 s per post for 20 s, and the process is killed (kill -9) inside it;
- 2/6: Slack answers 503 to everything for 45 s, longer than the five tries the inbox once
  gave an event, and the process is killed and started again during the outage;
- 4/6: a P0 is opened (1-minute target) and, 30 s later, 200 distinct critical alerts flood
  in from one source, so the P0 breaches with the flood's incidents in line;
- 5/6: a plain kill -9.

Afterwards, with the faults off, every acknowledged open must have exactly one card, every
acknowledged update exactly one thread line, every acknowledged pin one timeline entry, and
the P0's pages (thread mention and DM) must have gone out within 10 s of the breach.

With `--postgres --processes 2`, two `opsbot serve` share a throw-away PostgreSQL (started
as the tests start theirs); each request goes to one of them, and to the other when the
first cannot be reached (as a load balancer does). The kills above hit either process, and
ten more kill the leader: how long from each kill until the other leads (its /healthz
says so) is reported as min/median/max. The short database fault is then another session
holding a lock on the outbox for 3-5 s.

    python bench/soak.py [--duration 180] [--clients 20] [--seed N]
    python bench/soak.py --postgres --processes 2

Loopback only; bounded (DURATION, then up to 10 minutes to deliver what is owed).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ack import free_port  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.tools.localslack import (  # noqa: E402
    LocalSlack,
    Message,
    block_action,
    reaction_event,
    signed_headers,
    slash_command,
)
from tests.e2e.fakes import ThirdParty  # noqa: E402

SECRET = "soak-signing-secret"
ALERT_SECRET = "soak-alert-secret-0123"
USERS = ["U0ALICE01", "U0BOB0001", "U0CAROL01", "U0DAVE001"]
ONCALL = "U0BOB0001"
PAGE_TARGET_SECONDS = 10  # from the breach to the page in Slack
FORM = "application/x-www-form-urlencoded"


class Bot:
    """`opsbot serve` as a subprocess that can be killed and started again."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
                env={**self.env, "PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url.replace("/slack/events", "/healthz"), timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise SystemExit("opsbot serve did not start: " + self.log.read_text()[-2000:])

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def role(self) -> str | None:
        """ "leader" or "standby" as its /healthz says; None when it does not answer."""
        try:
            answer = httpx.get(self.url.replace("/slack/events", "/healthz"), timeout=2)
            return str(answer.json().get("role"))
        except (httpx.TransportError, ValueError):
            return None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


class Soak:
    def __init__(self, bots: list[Bot], slack: LocalSlack, rng: random.Random) -> None:
        self.bots, self.slack, self.rng = bots, slack, rng
        self.lock = threading.Lock()
        self.sent = Counter[str]()
        self.refused = 0  # no answer: the server was down (not acknowledged, nothing owed)
        self.late: list[str] = []  # what took over 3 s, where and when (the log has the rest)
        self.cut_off = 0  # taken by a process that was killed before it answered
        self.began = time.monotonic()
        self.acked_opens: list[str] = []  # titles of acknowledged opens
        self.acked_updates: list[str] = []  # tokens of acknowledged updates
        self.acked_pins: list[str] = []  # texts of pinned messages, acknowledged
        self.stop = threading.Event()

    def post(self, body: str, kind: str) -> httpx.Response | None:
        """Send a request as a load balancer in front of the processes would: to one, and to
        the other when the first is down. An answer is late when the process that gave it
        took over 3 s; a request the first process took and never answered (it was killed
        with it) is counted apart, as cut off: Slack would show that person an error."""
        headers = {**signed_headers(body, SECRET), "Content-Type": kind}
        began = time.monotonic()
        answer = None
        tried: list[str] = []
        for bot in self.rng.sample(self.bots, len(self.bots)):  # the other when one is down
            tried.append(bot.log.stem)
            sent = time.monotonic()
            try:
                answer = httpx.post(bot.url, content=body.encode(), headers=headers, timeout=10)
                break
            except httpx.ConnectError:
                continue  # down: a balancer tries the other
            except httpx.TransportError as exc:
                tried[-1] += f" ({type(exc).__name__} after {time.monotonic() - sent:.1f} s)"
                with self.lock:
                    self.cut_off += 1
                continue
        if answer is None:
            with self.lock:
                self.refused += 1
            return None
        took = time.monotonic() - sent
        if took > 3:
            what = parse_qs(body).get("text", [body[:40]])[0][:40]
            at = datetime.now().strftime("%H:%M:%S")
            with self.lock:
                self.late.append(
                    f"{took:.1f} s at {at} ({began - self.began:.0f} s in), "
                    f"{' then '.join(tried)}: {what}"
                )
        return answer if answer.status_code == 200 else None

    def event(self, body: str) -> bool:
        """An Events API delivery, sent again as Slack does when it gets no 2xx in time: here
        after 1, 2 and 4 s (Slack waits about a minute and five). True when one got a 200."""
        for wait in (1, 2, 4, 0):
            if self.post(body, "application/json") is not None:
                return True
            with self.lock:
                self.sent["event retry"] += 1 if wait else 0
            if wait:
                time.sleep(wait)
        return False

    def command(self, name: str, text: str, user: str) -> httpx.Response | None:
        body = slash_command(
            name,
            text,
            user=user,
            user_name="soak",
            channel="C0SOAK001",
            response_url=self.slack.response_url(),
        )
        return self.post(body, FORM)

    def cards(self) -> list[Message]:
        """The soak's own incidents' cards (plain-text ones included)."""
        return [
            m
            for m in self.slack.history("#incidents")
            if not m.thread_ts and "soak-" in m.text and "P2" in m.text
        ]

    def one(self, client: int) -> None:
        user = self.rng.choice(USERS)
        roll = self.rng.random()
        with self.lock:
            cards = self.cards()
        if roll < 0.25 or not cards:
            title = f"soak-{uuid.uuid4().hex[:10]}"
            self.sent["open"] += 1
            answer = self.command("/incident", f"open P2 {title}", user)
            if answer is not None and "opened as" in answer.text:
                with self.lock:
                    self.acked_opens.append(title)
        elif roll < 0.55:
            card = self.rng.choice(cards)
            ref = card.text.split(" ", 1)[0]
            token = f"upd-{uuid.uuid4().hex[:10]}"
            self.sent["update"] += 1
            answer = self.command("/incident", f"update {ref} {token}", user)
            if answer is not None and "update added" in answer.text:
                with self.lock:
                    self.acked_updates.append(token)
        elif roll < 0.75:
            card = self.rng.choice(cards)
            buttons = [e for b in card.blocks if b.get("type") == "actions" for e in b["elements"]]
            if buttons:
                self.sent["click"] += 1
                body = block_action(
                    self.rng.choice(buttons[:3]),
                    card,
                    user=user,
                    user_name="soak",
                    response_url=self.slack.response_url(),
                )
                self.post(body, FORM)
        elif roll < 0.88:
            card = self.rng.choice(cards)
            text = f"pin-{uuid.uuid4().hex[:10]}"
            said = self.slack.post(card.channel, user, text, thread_ts=card.ts)
            self.slack.react(said, user, "pushpin")
            self.sent["pin"] += 1
            if self.event(reaction_event(said, user=user, name="pushpin", added=True)):
                with self.lock:
                    self.acked_pins.append(text)
        else:
            self.sent["health"] += 1
            self.command("/health", "", user)

    def client(self, number: int) -> None:
        while not self.stop.is_set():
            try:
                self.one(number)
            except Exception as exc:  # a soak client must not die quietly
                print(f"client {number}: {type(exc).__name__}: {exc}", file=sys.stderr)
            time.sleep(self.rng.uniform(0.05, 0.3))


def hold_lock(db: str) -> Any:
    """Another process holding the database's write lock (SQLite), or a lock on the outbox
    (PostgreSQL) every command that owes Slack something needs; rolled back to release."""
    if "://" not in db:
        held = sqlite3.connect(db, timeout=10)
        held.execute("BEGIN IMMEDIATE")
        return held
    import psycopg

    held = psycopg.connect(db.replace("postgresql+psycopg://", "postgresql://"))
    held.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
    return held


def faults(
    slack: LocalSlack,
    pager: ThirdParty,
    db: str,
    rng: random.Random,
    stop: threading.Event,
    scripted: threading.Event,
) -> None:
    """Every few seconds, one short fault on for a few seconds, then off (none while a
    scripted fault runs)."""
    kinds = ["slack-503", "slack-429", "slack-slow", "refused", "db-lock", "pagerduty-500", "none"]
    while not stop.wait(rng.uniform(4, 8)):
        if scripted.is_set():
            continue
        kind = rng.choice(kinds)
        held: Any = None
        if kind == "slack-503":
            slack.fault(method="chat.postMessage", status=503)
        elif kind == "slack-429":
            slack.fault(method="chat.postMessage", channel="#incidents", retry_after=2)
        elif kind == "slack-slow":
            slack.latency = 0.5
        elif kind == "refused":  # Slack refuses every layout, for good
            slack.fault(method="chat.postMessage", error="invalid_blocks", with_blocks=True)
            slack.fault(method="chat.update", error="invalid_blocks", with_blocks=True)
        elif kind == "db-lock":  # another process holds a lock past the write budget
            held = hold_lock(db)
        elif kind == "pagerduty-500":
            pager.always = 500
        stop.wait(rng.uniform(3, 5) if held else rng.uniform(2, 5))
        if held is not None:
            held.rollback()
            held.close()
        slack.clear_faults()
        slack.latency = 0.01
        pager.always = None


def flood(urls: list[str], count: int) -> int:
    """`count` distinct critical alerts from one Alertmanager, one body each (to the next
    process when one cannot be reached); how many the intake took."""
    taken = 0
    for n in range(count):
        alert = {
            "status": "firing",
            "labels": {"alertname": f"Flood{n}", "severity": "critical", "instance": f"web-{n}"},
            "annotations": {"summary": f"Flood alert {n}"},
            "startsAt": "2026-12-07T09:58:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"flood-{n}",
        }
        body = {"version": "4", "groupKey": f"flood-{n}", "status": "firing", "alerts": [alert]}
        for url in urls:
            try:
                answer = httpx.post(
                    url,
                    content=json.dumps(body).encode(),
                    headers={"Authorization": f"Bearer {ALERT_SECRET}"},
                    timeout=10,
                )
            except httpx.TransportError:
                continue
            taken += answer.status_code == 202
            break
    return taken


def page_delays(slack: LocalSlack, store: Store, number: int) -> dict[str, float | None]:
    """Seconds from the P0's breach (its first page on the timeline) to each page in Slack:
    the mention in the P0's own channel (or its thread, when it has none) and the DM."""
    pages = [e for e in store.incidents.timeline(number) if e.kind == "page"]
    if not pages:
        return {"thread": None, "dm": None}
    owed = pages[0].at.timestamp()
    mention = f"<@{ONCALL}>"
    found: dict[str, float | None] = {"thread": None, "dm": None}
    incident = store.incidents.incident(number)
    where = incident.room_id if incident and incident.room_id else "#incidents"
    for message in slack.history(where):
        if mention in message.text and f"INC-{number}" in message.text:
            found["thread"] = float(message.ts) - owed
            break
    for message in slack.history(ONCALL):
        if f"INC-{number}" in message.text:
            found["dm"] = float(message.ts) - owed
            break
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--logs", type=Path, help="keep the serve logs in this folder")
    args = parser.parse_args()
    if args.processes > 1 and not args.postgres:
        parser.error("--processes above 1 needs --postgres: one opsbot serve per SQLite file")
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    cluster = postgres() if args.postgres else None
    try:
        return run(args, seed, rng, cluster)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args: argparse.Namespace, seed: int, rng: random.Random, cluster: Any) -> int:
    with LocalSlack() as slack, tempfile.TemporaryDirectory() as tmp:
        pager = ThirdParty()
        slack.latency = 0.01
        config = Path(tmp) / "opsbot.toml"
        config.write_text(
            f"""
[oncall]
rotation = ["{ONCALL}"]
pagerduty_routing_key = "soak-key"
pagerduty_url = "{pager.url}"

[severities.P0]
response_minutes = 1

[severities.P2]
response_minutes = 1

[outbox]
slack_posts_per_second = 20
slack_burst = 20

[[alerts.sources]]
name = "prom"
kind = "alertmanager"
secret = "{ALERT_SECRET}"
"""
        )
        db = str(Path(tmp) / "soak.db")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
        env.update(
            SLACK_BOT_TOKEN="xoxb-soak",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_base,
            OPSBOT_DB=db,
            OPSBOT_CONFIG=str(config),
            PYTHONPATH=str(ROOT),
        )
        if cluster is not None:
            db = env["OPSBOT_DATABASE_URL"] = cluster.create_database("soak")
        bots = [Bot(env, free_port(), Path(tmp) / f"serve-{n}.log") for n in range(args.processes)]
        # A soak that fails half-way (a serve that does not start again) ends, its processes
        # with it: its threads are daemons, and no serve outlives it.
        atexit.register(lambda: [bot.proc.kill() for bot in bots if bot.proc])
        for bot in bots:
            bot.start()
        soak = Soak(bots, slack, rng)
        scripted = threading.Event()  # the short faults pause while a scripted one runs
        stop_faults = threading.Event()
        threads = [
            threading.Thread(target=soak.client, args=(n,), daemon=True)
            for n in range(args.clients)
        ]
        threads.append(
            threading.Thread(
                target=faults, args=(slack, pager, db, rng, stop_faults, scripted), daemon=True
            )
        )
        began = time.monotonic()
        for thread in threads:
            thread.start()
        kills, p0, flooded = 0, None, 0
        failovers: list[float] = []
        step = args.duration / 6

        def at(moment: float) -> None:
            time.sleep(max(0.0, began + moment - time.monotonic()))

        def kill(victim: Bot | None = None) -> None:
            """kill -9 one process (either, at random) and start it again."""
            nonlocal kills
            victim = victim or rng.choice(bots)
            victim.kill()
            kills += 1
            victim.start()

        if len(bots) > 1:
            killer = threading.Thread(
                target=kill_leaders,
                args=(bots, args.duration, began, failovers, soak.stop),
                daemon=True,
            )
            killer.start()
            threads.append(killer)

        at(step)  # slow Slack (0.5-3 s a post), killed while posts are on their way
        scripted.set()
        time.sleep(6)
        slack.fault(method="chat.postMessage", delay=(0.5, 3.0))
        time.sleep(5)
        kill()
        time.sleep(15)
        slack.clear_faults()
        scripted.clear()

        at(2 * step)  # a Slack outage longer than the inbox's old five tries, and a restart
        scripted.set()
        time.sleep(6)
        slack.fault(status=503)
        time.sleep(15)
        kill()
        time.sleep(30)
        slack.clear_faults()
        scripted.clear()

        at(4 * step)  # a P0, then an alert flood while it waits to breach
        answer = soak.command("/incident", "open P0 soak-p0 Checkout down", USERS[0])
        if answer is not None and "opened as P0" in answer.text:
            p0 = int(answer.text.split("INC-", 1)[1].split(" ", 1)[0])
        time.sleep(30)
        intakes = [b.url.replace("/slack/events", "/alerts/alertmanager/prom") for b in bots]
        flooded = flood(intakes, 200)

        at(5 * step)
        kill()

        at(args.duration)
        soak.stop.set()
        stop_faults.set()
        for thread in threads:
            thread.join(30)
        slack.clear_faults()
        slack.latency = 0.01
        pager.always = None

        store = Store(db)
        settling = time.monotonic()
        deadline = settling + 600
        while time.monotonic() < deadline:
            waiting = (
                store.outbox.outbox_summary(datetime.now(UTC))["pending"]
                + store.inbox.inbox_pending()
            )
            if waiting == 0:
                break
            time.sleep(0.5)
        settled_in = time.monotonic() - settling
        given_up = store.outbox.outbox_summary(datetime.now(UTC))["dead"]
        events_dead = store.inbox.inbox_summary(datetime.now(UTC))["dead"]
        report = count(soak, slack, store)
        delays = page_delays(slack, store, p0) if p0 else {"thread": None, "dm": None}
        held_up = (
            p0_rows(store, p0)
            if p0 and any(v is None or v > PAGE_TARGET_SECONDS for v in delays.values())
            else []
        )
        opened = len(store.incidents.find(open_only=False, limit=100_000))
        doubled = doubled_cards(slack, store)
        for bot in bots:
            bot.stop()
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(bot.log, args.logs / bot.log.name)
        store.close()
        pager.close()

    where = f"{args.processes} opsbot serve on PostgreSQL" if cluster else "opsbot serve on SQLite"
    kills += len(failovers)
    print(f"soak: {args.duration:.0f} s, {args.clients} clients, {where}, seed {seed}, ", end="")
    print(f"{kills} kill -9")
    if failovers:
        failovers.sort()
        print(
            f"failover (leader killed -> the other leads), {len(failovers)} kills: min "
            f"{failovers[0]:.1f} s, median {statistics.median(failovers):.1f} s, max "
            f"{failovers[-1]:.1f} s"
        )
    print("commands sent:", dict(soak.sent), f"(refused while down: {soak.refused})")
    print(f"acks over 3 s: {len(soak.late)} (cut off by a kill, sent again: {soak.cut_off})")
    for line in soak.late:
        print("  ", line)
    for name, (owed, delivered, duplicated, lost) in report.items():
        print(
            f"{name:8} owed {owed:5}  delivered {delivered:5}  duplicated {duplicated:3}  "
            f"lost {lost:3}"
        )
    for line in doubled:
        print("  ", line)
    print(f"settled in {settled_in:.0f} s after the load stopped; still owed: {waiting}")
    print(
        f"outbox rows given up on (refused or dead): {given_up}; inbox events dead: {events_dead}"
    )
    print(f"alert flood: {flooded} of 200 alerts taken in; {opened} incidents in all")
    shown = {k: ("never" if v is None else f"{v:.1f} s") for k, v in delays.items()}
    print(f"P0 INC-{p0} pages after its breach: channel {shown['thread']}, DM {shown['dm']}")
    late_pages = [v for v in delays.values() if v is None or v > PAGE_TARGET_SECONDS]
    for row in held_up:  # what the P0 owed, when each row was owed, first tried and done
        print("  ", row)
    bad = len(soak.late) + sum(d + lost for _, _, d, lost in report.values()) + len(late_pages)
    bad += events_dead + waiting
    return 1 if bad else 0


def doubled_cards(slack: LocalSlack, store: Store) -> list[str]:
    """Each incident with more than one card in #incidents: its cards' ts and outbox rows,
    and the incident's outbox rows, to tell which path posted twice."""
    cards: dict[Any, list[str]] = {}
    for m in slack.history("#incidents"):
        payload = (m.metadata or {}).get("event_payload", {})
        if not m.thread_ts and (m.metadata or {}).get("event_type") == "opsbot_incident":
            cards.setdefault(payload.get("incident"), []).append(f"{m.ts} row {payload.get('row')}")
    lines = []
    for number, posted in cards.items():
        if len(posted) > 1:
            lines.append(f"INC-{number} has {len(posted)} cards: {', '.join(posted)}")
            lines += ["    " + row for row in p0_rows(store, number)]
    return lines


def p0_rows(store: Store, number: int) -> list[str]:
    """An incident's outbox rows: what held up its pages, or what posted its card twice."""
    from sqlalchemy import text

    query = text(
        "SELECT id, kind, lane, priority, created_at, first_claimed_at, finished_at, attempts,"
        " last_error FROM outbox WHERE incident_id = :number ORDER BY id"
    )
    with store.engine.connect() as conn:
        return [
            " ".join(
                str(value)[11:23] if n in (4, 5, 6) else str(value) for n, value in enumerate(row)
            )
            for row in conn.execute(query, {"number": number})
        ]


def postgres() -> Any:
    """A PostgreSQL server of the run's own, as the tests start one."""
    from tests.postgres import Cluster, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("--postgres: no initdb found (set OPSBOT_PG_BIN)")
    cluster = Cluster(bin_dir)
    cluster.start()
    return cluster


def kill_leaders(
    bots: list[Bot], duration: float, began: float, failovers: list[float], stop: threading.Event
) -> None:
    """Ten times over the run, kill -9 the process that leads; time until another leads;
    start the killed one again (it stands by)."""
    for n in range(10):
        if stop.wait(max(0.0, began + (n + 0.5) * duration / 10.5 - time.monotonic())):
            return
        leader = next((bot for bot in bots if bot.role() == "leader"), None)
        if leader is None:
            continue  # a scripted kill is under way; the next one finds a leader
        leader.kill()
        killed = time.monotonic()
        others = [bot for bot in bots if bot is not leader]
        while time.monotonic() - killed < 60:
            if any(bot.role() == "leader" for bot in others):
                failovers.append(time.monotonic() - killed)
                break
            time.sleep(0.1)
        leader.start()


def count(soak: Soak, slack: LocalSlack, store: Store) -> dict[str, tuple[int, int, int, int]]:
    """For each acknowledged change, how many times its effect is in Slack (or SQLite)."""
    history = slack.history("#incidents")
    by_title = {i.title: i.number for i in store.incidents.find(open_only=False, limit=100_000)}
    top = Counter(
        (m.metadata or {}).get("event_payload", {}).get("incident")
        for m in history
        if not m.thread_ts and (m.metadata or {}).get("event_type") == "opsbot_incident"
    )
    cards = Counter({title: top[by_title.get(title)] for title in soak.acked_opens})
    texts = [m.text for m in history if m.thread_ts]
    lines = Counter({token: sum(token in text for text in texts) for token in soak.acked_updates})
    pinned = Counter(
        e.text
        for number in by_title.values()
        for e in store.incidents.timeline(number)
        if e.kind == "pin"
    )
    pins = Counter({text: pinned[text] for text in soak.acked_pins})

    def tally(found: Counter[str], owed: list[str]) -> tuple[int, int, int, int]:
        values = [found[key] for key in owed]
        return (
            len(owed),
            sum(1 for v in values if v >= 1),
            sum(1 for v in values if v > 1),
            sum(1 for v in values if v == 0),
        )

    return {
        "cards": tally(cards, soak.acked_opens),
        "updates": tally(lines, soak.acked_updates),
        "pins": tally(pins, soak.acked_pins),
    }


if __name__ == "__main__":
    raise SystemExit(main())
