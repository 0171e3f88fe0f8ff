"""Alert intake under load: RATE alerts a minute for DURATION seconds from 5 Alertmanager
sources, 80 % repeats, through a real `opsbot serve` against the local Slack (Slack's own
pace of about one post a second per channel, 10 ms a call).

Side by side in the same run, the baseline: the same requests against a bare WSGI app on
the same server (waitress) that only reads and parses the JSON body. Reported: intake p50
and p99 for both and their ratio; then, once delivery settles, whether every distinct
critical alert is on an incident's timeline, the busiest second of posts per channel, and
the storm summary message.

    python bench/alerts.py [--duration 120] [--rate 1000] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ack import free_port  # noqa: E402
from bench.soak import Bot  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.tools.localslack import LocalSlack  # noqa: E402

SECRET = "bench-alerts-secret"
SOURCES = [f"prom{n}" for n in range(5)]


def bare_app(environ, start_response):  # type: ignore[no-untyped-def]
    """The baseline: read the body, parse it, answer 202."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    json.loads(environ["wsgi.input"].read(length))
    start_response("202 Accepted", [("Content-Type", "application/json")])
    return [b'{"status": "success"}']


def body(rng: random.Random, known: dict[str, list[str]], source: str) -> dict:
    fingerprints = known.setdefault(source, [])
    if fingerprints and rng.random() < 0.8:
        fingerprint = rng.choice(fingerprints)  # a repeat
    else:
        fingerprint = f"{source}-{len(fingerprints)}"
        fingerprints.append(fingerprint)
    number = int(fingerprint.rsplit("-", 1)[1])
    severity = "critical" if number % 3 == 0 else "warning"
    name = f"Alert{number % 5}"
    return {
        "version": "4",
        "groupKey": f"{source}:{name}",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "severity": severity, "instance": fingerprint},
                "annotations": {"summary": f"{name} on {fingerprint}"},
                "startsAt": "2026-12-07T09:58:00Z",
                "fingerprint": fingerprint,
            }
        ],
    }


def load(url_of, seconds: float, rate: int, rng: random.Random) -> tuple[list[float], dict]:  # type: ignore[no-untyped-def]
    """Send at `rate` a minute for `seconds`; latencies (ms) and the fingerprints sent."""
    known: dict[str, list[str]] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    gap = 60.0 / rate
    client = httpx.Client(timeout=10)

    def one(source: str, payload: dict) -> None:
        began = time.perf_counter()
        answer = client.post(
            url_of(source),
            content=json.dumps(payload),
            headers={"Authorization": f"Bearer {SECRET}"},
        )
        took = (time.perf_counter() - began) * 1000
        assert answer.status_code == 202, answer.text
        with lock:
            latencies.append(took)

    with ThreadPoolExecutor(8) as pool:
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            source = SOURCES[n % len(SOURCES)]
            pool.submit(one, source, body(rng, known, source))
            n += 1
            time.sleep(max(0.0, start + n * gap - time.monotonic()))
    client.close()
    return latencies, known


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="opsbot-bench-alerts-"))

    from waitress.server import create_server

    bare = create_server(bare_app, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=bare.run, daemon=True).start()
    bare_url = f"http://127.0.0.1:{bare.effective_port}/alerts"
    baseline, _ = load(lambda s: bare_url, min(30.0, args.duration), args.rate, rng)

    with LocalSlack() as slack:
        slack.latency = 0.01
        slack.pace(1, 5)
        config = work / "opsbot.toml"
        config.write_text(
            "".join(
                f'[[alerts.sources]]\nname = "{s}"\nkind = "alertmanager"\nsecret = "{SECRET}"\n'
                for s in SOURCES
            )
        )
        env = {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": slack.api_base,
            "OPSBOT_DB": str(work / "opsbot.db"),
            "OPSBOT_CONFIG": str(config),
            "BACKUP_DIR": str(work / "backups"),
            "PATH": "/usr/bin:/bin",
        }
        bot = Bot(env, free_port(), work / "serve.log")
        bot.start()
        base = bot.url.replace("/slack/events", "")
        try:
            latencies, known = load(
                lambda s: f"{base}/alerts/alertmanager/{s}", args.duration, args.rate, rng
            )
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                owed = httpx.get(base + "/healthz", timeout=5).json()["outbox"]["pending"]
                if not owed:
                    break
                time.sleep(1)
        finally:
            bot.stop()
        store = Store(work / "opsbot.db")
        posts = Counter(int(float(m.ts)) for m in slack.history("#incidents") if not m.thread_ts)
        summaries = [m for m in slack.history("#incidents") if "Alert storm" in m.text]
        updates = len(slack.methods("chat.update"))
        refused = sum(1 for c in slack.calls if c.method == "chat.postMessage") - sum(
            posts.values()
        )

    critical = {(s, f) for s, fs in known.items() for f in fs if int(f.rsplit("-", 1)[1]) % 3 == 0}
    on_timeline = 0
    for source, fingerprint in critical:
        alert = store.alerts.alert(source, fingerprint)
        if (
            alert
            and alert.incident
            and any(
                e.source == f"alert:{alert.id}:firing:0"
                for e in store.incidents.timeline(alert.incident)
            )
        ):
            on_timeline += 1
    sent = len(latencies)
    distinct = sum(len(v) for v in known.values())
    print(
        f"alerts sent: {sent} ({distinct} distinct, {sent - distinct} repeats) "
        f"in {args.duration:.0f} s"
    )
    print(
        f"intake  p50 {p(latencies, 50):.1f} ms, p99 {p(latencies, 99):.1f} ms (target p99 < 50 ms)"
    )
    print(f"baseline p50 {p(baseline, 50):.1f} ms, p99 {p(baseline, 99):.1f} ms (bare WSGI, JSON)")
    print(f"ratio p99 {p(latencies, 99) / p(baseline, 99):.2f}x the baseline")
    print(f"critical alerts on a timeline: {on_timeline} of {len(critical)}")
    print(
        f"posts in #incidents: {sum(posts.values())}, busiest second "
        f"{max(posts.values(), default=0)} (Slack allows 1 a second with bursts), "
        f"answered 429: {refused}"
    )
    print(f"storm summary messages: {len(summaries)}, chat.update calls: {updates}")


if __name__ == "__main__":
    main()
