"""Ack latency and throughput of `/incident open` through `opsbot serve`, against a bare Bolt app.

Both run in their own process behind the same server (waitress, same thread count), against
the same local Slack Web API stand-in, on this machine, in this run; the load is the same
signed slash commands from N concurrent clients. What is reported is the ratio: opsbot's
work before ack (parse, one SQLite commit) over Bolt's own cost of acking a no-op.

    python bench/ack.py [--concurrency 20] [--requests 400] [--rounds 5]
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

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.localslack import LocalSlack, signed_headers, slash_command  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


def bare_bolt(port: int, api_base: str) -> None:
    """The baseline: a Bolt app whose only listener acks a no-op command, under waitress."""
    from concurrent.futures import ThreadPoolExecutor

    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bot.cli import LISTENER_THREADS
    from bot.server import make_server

    app = App(
        client=WebClient(token=TOKEN, base_url=api_base),
        signing_secret=SECRET,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS),
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


def load(url: str, api: LocalSlack, concurrency: int, total: int) -> dict[str, float]:
    """Send `total` signed /incident commands from `concurrency` clients; time each answer."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            for n in counter:
                body = slash_command(
                    "/incident",
                    f"open P3 bench {n}",
                    user="U0BENCH01",
                    user_name="bench",
                    channel="C0BENCH01",
                    response_url=api.response_url(),
                )
                headers = {
                    **signed_headers(body, SECRET),
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                began = time.perf_counter()
                answer = http.post(url, content=body.encode(), headers=headers)
                took = time.perf_counter() - began
                if answer.status_code != 200:
                    raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:200]}")
                with lock:
                    latencies.append(took)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bare-bolt", nargs=2, metavar=("PORT", "API"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_bolt:
        bare_bolt(int(args.bare_bolt[0]), args.bare_bolt[1])
        return 0

    with LocalSlack() as api, tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=api.api_base,
            OPSBOT_DB=str(Path(tmp) / "bench.db"),
            PYTHONPATH=str(ROOT),
        )
        ports = {"bare Bolt": free_port(), "opsbot": free_port()}
        urls = {name: f"http://127.0.0.1:{port}/slack/events" for name, port in ports.items()}
        bare = [sys.executable, __file__, "--bare-bolt", str(ports["bare Bolt"]), api.api_base]
        ops = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
        logs = Path(tmp)
        procs = [
            start(bare, env, urls["bare Bolt"], logs / "bare.log"),
            start(ops, {**env, "PORT": str(ports["opsbot"])}, urls["opsbot"], logs / "opsbot.log"),
        ]
        rounds: dict[str, list[dict[str, float]]] = {"bare Bolt": [], "opsbot": []}
        opened = 0
        try:
            for number in range(args.rounds + 1):  # round 0 warms both up and is not counted
                for name, url in urls.items():  # alternate, so drift hits both alike
                    result = load(url, api, args.concurrency, args.requests)
                    if name == "opsbot":
                        opened += args.requests
                        drained(api, opened)
                    if number:
                        rounds[name].append(result)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)

    print(
        f"/incident open: {args.rounds} rounds x {args.requests} requests, "
        f"{args.concurrency} concurrent, {os.cpu_count()} cores (medians)"
    )
    print(f"{'':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    medians = {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in rounds.items()
    }
    for name, m in medians.items():
        print(
            f"{name:10} {m['throughput']:8.1f} {m['p50_ms']:8.1f} {m['p99_ms']:8.1f} "
            f"{m['max_ms']:8.1f}"
        )
    ratios = [
        o["throughput"] / b["throughput"]
        for o, b in zip(rounds["opsbot"], rounds["bare Bolt"], strict=True)
    ]
    print(
        f"throughput ratio opsbot / bare Bolt: {statistics.median(ratios):.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
