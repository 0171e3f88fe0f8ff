"""`/incident stats 90d` over a big record, through a real `opsbot serve` and the local Slack.

The record: INCIDENTS incidents over the last 90 days (severities as a team sees them,
most acknowledged and resolved) with PAGES pages among eight people in four time zones,
and 400 alerts in 40 groups, written straight into a migrated SQLite file. Then, measured:
how long the command's answer takes (Slack's limit is 3 s), how long until its figures and
every chart are in the channel (the goal: 10 s), and `/incident open` acks from 10 clients
while a second report is drawn against the same acks with nothing else going on (a report
is drawn in a child process, from a bounded pool: the ack path should not be slowed).

    python bench/stats.py [--incidents 10000] [--pages 50000] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ack import (  # noqa: E402
    free_port,  # noqa: E402
    load,
    signed,
)
from bench.soak import Bot  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.schema.records import incidents, timeline  # noqa: E402
from bot.store.schema.work import alerts  # noqa: E402
from bot.tools.localslack import LocalSlack  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
CHANNEL = "C0BENCH01"
PEOPLE = {
    f"U0PERSON{n}": zone
    for n, zone in enumerate(
        ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London"] * 2
    )
}
SEVERITIES = [("P0", 15, 0.05), ("P1", 60, 0.15), ("P2", 240, 0.5), ("P3", 1440, 0.3)]


def seed(db: Path, count: int, pages: int, rng: random.Random, now: datetime) -> None:
    """The record, written in bulk (the service would take minutes for it)."""
    store = Store(db)
    store.migrate()
    people = list(PEOPLE)
    rows, entries = [], []
    for number in range(1, count + 1):
        severity, target, _ = rng.choices(SEVERITIES, [w for *_, w in SEVERITIES])[0]
        opened = now - timedelta(days=90) + timedelta(seconds=rng.uniform(0, 90 * 86400))
        acked = opened + timedelta(minutes=rng.expovariate(1 / (target / 2)))
        resolved = acked + timedelta(minutes=rng.expovariate(1 / (target * 2)))
        done = resolved < now and rng.random() < 0.95
        rows.append(
            {
                "id": number,
                "title": f"Incident {number}",
                "severity": severity,
                "status": "resolved" if done else "acknowledged",
                "commander": rng.choice(people),
                "opened_by": rng.choice(people),
                "opened_at": opened.isoformat(),
                "acked_at": acked.isoformat(),
                "acked_by": rng.choice(people),
                "resolved_at": resolved.isoformat() if done else None,
                "target_severity": severity,
                "target_minutes": target,
                "target_met": int(acked - opened <= timedelta(minutes=target)),
                "opened_via": rng.choice(["hand", "alerts", "monitor"]),
            }
        )
        entries.append(
            {
                "incident_id": number,
                "at": opened.isoformat(),
                "kind": "opened",
                "text": "Opened",
                "source": None,
                "seq": 1,
            }
        )
    for n in range(pages):
        row = rows[rng.randrange(count)]
        at = datetime.fromisoformat(row["opened_at"]) + timedelta(minutes=rng.uniform(0, 30))
        person, role = rng.choice(people), rng.choice(["on call", "on call", "escalation"])
        entries.append(
            {
                "incident_id": row["id"],
                "at": at.isoformat(),
                "kind": "page",
                "text": f"Paged <@{person}> ({role})",
                "source": f"page:{role}:{person}:{n}",
                "seq": n + 2,
            }
        )
    found = [
        {
            "source": f"prom{n % 4}",
            "fingerprint": f"f{n}",
            "status": "resolved",
            "severity": "warning",
            "summary": "x",
            "labels": "{}",
            "group_key": f"g{n % 40}",
            "first_seen": (now - timedelta(days=rng.uniform(0, 90))).isoformat(),
            "last_seen": now.isoformat(),
            "repeats": rng.randrange(20),
        }
        for n in range(400)
    ]
    with store.engine.begin() as db_:
        db_.execute(incidents.insert(), rows)
        db_.execute(timeline.insert(), entries)
        db_.execute(alerts.insert(), found)
    store.close()


ROUNDS = 20


def _stats_request(api: LocalSlack, text: str) -> tuple[bytes, dict[str, str]]:
    body, headers = signed(api, "/incident", text, "U0PERSON0")
    return body.replace(b"C0BENCH01", CHANNEL.encode()), headers


def ask(url: str, api: LocalSlack, text: str) -> tuple[float, float, int, bool]:
    """The command's answer time; when its last chart was in; how many; whether the text."""
    body, headers = _stats_request(api, text)
    asked = time.perf_counter()
    httpx.post(url, content=body, headers=headers, timeout=10)
    answered = time.perf_counter() - asked
    while len([m for m in api.history(CHANNEL) if m.files]) < 4:
        if time.perf_counter() - asked > 60:
            break
        time.sleep(0.02)
    charted = time.perf_counter() - asked
    shared = len([m for m in api.history(CHANNEL) if m.files])
    return answered, charted, shared, any(not m.files for m in api.history(CHANNEL))


def _medians(rounds: list[dict[str, float]]) -> tuple[float, float]:
    return (
        statistics.median(r["p50_ms"] for r in rounds),
        statistics.median(r["p99_ms"] for r in rounds),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with LocalSlack() as api, tempfile.TemporaryDirectory() as tmp:
        for user, zone in PEOPLE.items():
            api.add_user(user, user.lower(), tz=zone)
        db = Path(tmp) / "bench.db"
        began = time.perf_counter()
        seed(db, args.incidents, args.pages, rng, datetime.now(UTC))
        print(
            f"seeded {args.incidents:,} incidents and {args.pages:,} pages in "
            f"{time.perf_counter() - began:.1f} s"
        )
        config = Path(tmp) / "opsbot.toml"
        config.write_text("[outbox]\nslack_posts_per_second = 1000\nslack_burst = 1000\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=api.api_base,
            OPSBOT_DB=str(db),
            OPSBOT_CONFIG=str(config),
            PYTHONPATH=str(ROOT),
        )
        bot = Bot(env, free_port(), Path(tmp) / "opsbot.log")
        bot.start()
        try:
            answered, charted, shared, text = ask(bot.url, api, "stats 90d")
            # acks with nothing else going on, then the same while a report is drawn
            alone = [load(bot.url, api, 10, 50, prefix=f"alone{n}") for n in range(ROUNDS)]
            body, headers = _stats_request(api, "stats 90d")
            httpx.post(bot.url, content=body, headers=headers, timeout=10)
            began = time.perf_counter()
            drawn = [load(bot.url, api, 10, 50, prefix=f"drawn{n}") for n in range(ROUNDS)]
            overlapped = time.perf_counter() - began
            while len([m for m in api.history(CHANNEL) if m.files]) < 8:
                if time.perf_counter() - began > 120:
                    break
                time.sleep(0.05)
            second = time.perf_counter() - began
        finally:
            bot.stop()
    print(f"/incident stats 90d: answered in {answered * 1000:.0f} ms (Slack waits 3 s)")
    print(
        f"figures posted: {'yes' if text else 'no'}; {shared} charts, the last "
        f"{charted:.1f} s after asking (goal: 10 s), with no other load"
    )
    quiet, busy = _medians(alone), _medians(drawn)
    print(
        f"/incident open acks, 10 clients, {ROUNDS} rounds of 50 (medians of the rounds): "
        f"p50 {quiet[0]:.0f} ms, p99 {quiet[1]:.0f} ms alone; p50 {busy[0]:.0f} ms, p99 "
        f"{busy[1]:.0f} ms while a second report was drawn ({busy[0] / quiet[0]:.2f}x, "
        f"{busy[1] / quiet[1]:.2f}x); those rounds took {overlapped:.1f} s, the report "
        f"{second:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
