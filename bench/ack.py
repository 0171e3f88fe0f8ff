"""Ack latency and throughput of `/incident open` through `opsbot serve`, against bare Bolt.

Each runs in its own process behind the same server (waitress, same thread count), against
the same local Slack Web API stand-in, on this machine, in this run; the load is the same
signed slash commands from N concurrent clients. Two baselines: a bare Bolt app acking a
no-op as opsbot's Bolt is configured (listeners on a pool, ack awaited), and the fastest bare
Bolt found for this machine (the same, but the listener runs inline on the request thread:
`process_before_response=True`), so the gap to the ceiling shows. What is reported is the
ratio: opsbot's work before ack (parse, one SQLite transaction with the incident, its timers
and its outbox rows) over Bolt's own cost of acking a no-op.

opsbot's per-channel posting pace is raised for the run (the stand-in does not rate-limit),
so each round's cards are delivered before the next round starts.

    python bench/ack.py [--concurrency 20] [--requests 400] [--rounds 5]
    python bench/ack.py --hanging-mongo     # also: 100 clients run /health meanwhile, with
                                            # MongoDB accepting connections and never answering
    python bench/ack.py --postgres          # also: opsbot on a throw-away PostgreSQL cluster
                                            # (tests/postgres.py), beside opsbot on SQLite
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.tools.localslack import LocalSlack, signed_headers, slash_command  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


def bare_bolt(port: int, api_base: str, inline: bool = False) -> None:
    """The baseline: a Bolt app whose only listener acks a no-op command, under waitress."""
    from concurrent.futures import ThreadPoolExecutor

    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bot.pools import LISTENER_THREADS
    from bot.server import make_server

    app = App(
        client=WebClient(token=TOKEN, base_url=api_base),
        signing_secret=SECRET,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS),
        process_before_response=inline,
    )

    @app.command("/incident")
    def noop(ack):  # type: ignore[no-untyped-def]
        ack()

    make_server(SlackRequestHandler(app), "127.0.0.1", port).run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(argv: list[str], env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    # Output goes to a file: an undrained pipe fills up and blocks the server's logging.
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(url, content=b"", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit(log.read_text()) from None
            time.sleep(0.05)
    raise SystemExit(f"{argv} did not start")


def signed(api: LocalSlack, command: str, text: str, user: str) -> tuple[bytes, dict[str, str]]:
    """One slash command's body and headers, signed as Slack signs it."""
    body = slash_command(
        command,
        text,
        user=user,
        user_name="bench",
        channel="C0BENCH01",
        response_url=api.response_url(),
    )
    headers = {**signed_headers(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    return body.encode(), headers


def blackhole() -> int:
    """A TCP server that accepts connections and never answers: a hanging MongoDB."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return int(server.getsockname()[1])


def health_storm(url: str, api: LocalSlack, clients: int, stop: threading.Event) -> list[int]:
    """`clients` people typing /health during an outage, each again a second after the
    answer, until `stop`; returns how many were sent."""
    sent = [0]

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                body, headers = signed(api, "/health", "", "U0BENCH02")
                http.post(url, content=body, headers=headers)
                sent[0] += 1
                stop.wait(1)

    for _ in range(clients):
        threading.Thread(target=client, daemon=True).start()
    return sent


def load(
    url: str,
    api: LocalSlack,
    concurrency: int,
    total: int,
    acked: dict[str, float] | None = None,
    prefix: str = "bench",
) -> dict[str, float]:
    """Send `total` signed /incident commands from `concurrency` clients; time each answer.
    `acked` collects each title's wall-clock answer time (to time its card)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            for n in counter:
                body, headers = signed(api, "/incident", f"open P3 {prefix} {n}", "U0BENCH01")
                began = time.perf_counter()
                answer = http.post(url, content=body, headers=headers)
                took = time.perf_counter() - began
                if answer.status_code != 200:
                    raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:200]}")
                with lock:
                    latencies.append(took)
                    if acked is not None:
                        acked[f"{prefix} {n}"] = time.time()

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "throughput": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "max_ms": max(latencies) * 1000,
    }


def drained(api: LocalSlack, cards: int, timeout: float = 60) -> None:
    """Wait until opsbot has posted every card: its outbox must not eat the next round's CPU."""
    deadline = time.monotonic() + timeout
    while len(api.methods("chat.postMessage")) < cards:
        if time.monotonic() > deadline:
            raise SystemExit("opsbot did not post its cards in time")
        time.sleep(0.05)


OPSBOT_CONFIG = """
[outbox]
slack_posts_per_second = 1000
slack_burst = 1000
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hanging-mongo", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--bare-bolt", nargs=3, metavar=("PORT", "API", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.bare_bolt:
        port, api_base, mode = args.bare_bolt
        bare_bolt(int(port), api_base, inline=mode == "inline")
        return 0

    cluster = postgres() if args.postgres else None
    try:
        return run(args, cluster)
    finally:
        if cluster is not None:
            cluster.stop()


def postgres() -> Any:
    """A PostgreSQL server of the run's own, as the tests start one."""
    from tests.postgres import Cluster, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("--postgres: no initdb found (set OPSBOT_PG_BIN)")
    cluster = Cluster(bin_dir)
    cluster.start()
    return cluster


def run(args: argparse.Namespace, cluster: Any) -> int:
    with LocalSlack() as api, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "opsbot.toml"
        config.write_text(OPSBOT_CONFIG)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=api.api_base,
            OPSBOT_DB=str(Path(tmp) / "bench.db"),
            OPSBOT_CONFIG=str(config),
            PYTHONPATH=str(ROOT),
        )
        if args.hanging_mongo:
            env["MONGODB_URI"] = f"mongodb://127.0.0.1:{blackhole()}/promptbase"
        names: tuple[str, ...] = ("bare Bolt", "fastest Bolt", "opsbot")
        if cluster is not None:
            names += ("opsbot PG",)
        ports = {name: free_port() for name in names}
        urls = {name: f"http://127.0.0.1:{port}/slack/events" for name, port in ports.items()}
        logs = Path(tmp)
        procs = [
            start(
                [sys.executable, __file__, "--bare-bolt", str(ports[name]), api.api_base, mode],
                env,
                urls[name],
                logs / f"{mode}.log",
            )
            for name, mode in (("bare Bolt", "pool"), ("fastest Bolt", "inline"))
        ]
        ops = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
        procs.append(
            start(ops, {**env, "PORT": str(ports["opsbot"])}, urls["opsbot"], logs / "opsbot.log")
        )
        if cluster is not None:
            database = cluster.create_database("bench")
            on_pg = {**env, "PORT": str(ports["opsbot PG"]), "OPSBOT_DATABASE_URL": database}
            procs.append(start(ops, on_pg, urls["opsbot PG"], logs / "opsbot-pg.log"))
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        opened = 0
        try:
            for number in range(args.rounds + 1):  # round 0 warms both up and is not counted
                for name, url in urls.items():  # alternate, so drift hits all alike
                    result = load(url, api, args.concurrency, args.requests)
                    if name.startswith("opsbot"):
                        opened += args.requests
                        drained(api, opened)
                    if number:
                        rounds[name].append(result)
            storm = hanging(args, api, urls["opsbot"], opened) if args.hanging_mongo else None
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)

    print(
        f"/incident open: {args.rounds} rounds x {args.requests} requests, "
        f"{args.concurrency} concurrent, {os.cpu_count()} cores (medians)"
    )
    print(f"{'':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    medians = {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in rounds.items()
    }
    for name, m in medians.items():
        print(
            f"{name:12} {m['throughput']:8.1f} {m['p50_ms']:8.1f} {m['p99_ms']:8.1f} "
            f"{m['max_ms']:8.1f}"
        )
    for baseline in ("bare Bolt", "fastest Bolt"):
        ratio(f"opsbot / {baseline}", rounds["opsbot"], rounds[baseline])
    if cluster is not None:
        ratio("opsbot on PostgreSQL / on SQLite", rounds["opsbot PG"], rounds["opsbot"])
    if storm is not None:
        print(storm)
    return 0


def ratio(label: str, these: list[dict[str, float]], those: list[dict[str, float]]) -> None:
    """Throughput of `these` over `those`, round by round (each pair ran in the same round)."""
    ratios = [a["throughput"] / b["throughput"] for a, b in zip(these, those, strict=True)]
    print(
        f"throughput ratio {label}: {statistics.median(ratios):.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def hanging(args: argparse.Namespace, api: LocalSlack, url: str, opened: int) -> str:
    """While 100 people send /health against a hanging MongoDB: one flood of /incident open
    (its ack latency), then opens at Slack's channel pace, one a second (how long each card
    takes to appear after its ack; a flood's cards queue behind each other at any pace)."""
    stop = threading.Event()
    sent = health_storm(url, api, 100, stop)
    time.sleep(2)  # the storm is on
    first = len(api.methods("chat.postMessage"))
    flood = load(url, api, args.concurrency, args.requests, prefix="storm")
    drained(api, first + args.requests)
    acked: dict[str, float] = {}
    for n in range(20):
        load(url, api, 1, 1, acked, prefix=f"paced{n}")
        time.sleep(1)
    drained(api, first + args.requests + 20)
    stop.set()
    delays = []
    for message in api.history("#incidents"):
        title = message.text.split(": ", 1)[-1].rsplit(" (", 1)[0]
        if not message.thread_ts and title in acked:
            delays.append(float(message.ts) - acked[title])
    delays.sort()
    return (
        f"with MongoDB hanging and 100 people sending /health ({sent[0]} sent): "
        f"/incident open flood p50 {flood['p50_ms']:.1f} ms, p99 {flood['p99_ms']:.1f} ms, "
        f"{flood['throughput']:.1f} req/s; one open a second: card posted after its ack in "
        f"median {statistics.median(delays) * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    raise SystemExit(main())
