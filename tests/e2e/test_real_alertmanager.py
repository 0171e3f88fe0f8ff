"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) pointed at opsbot with
docs/alerts.md's receiver config: alerts pushed through Alertmanager's own API open one
incident for their group, a repeat changes nothing, and the resolution is marked."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.tools.localslack import LocalSlack
from tests.conftest import Clock
from tests.e2e.conftest import free_port
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP

SECRET = "am-secret-0123456789"


def alertmanager_binary() -> str:
    """Installed, or installed now from Debian's packages when this machine can (root with
    apt-get); otherwise the test is skipped, saying why."""
    for name in ("prometheus-alertmanager", "alertmanager"):
        if found := shutil.which(name):
            return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "timeout": 300}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)  # type: ignore[call-overload]
        subprocess.run(  # type: ignore[call-overload]
            ["apt-get", "install", "-y", "-qq", "prometheus-alertmanager"], check=False, **quiet
        )
        if found := shutil.which("prometheus-alertmanager"):
            return found
    pytest.skip("no Alertmanager here and it could not be installed (apt-get as root)")


@pytest.fixture
def opsbot(tmp_path: Path) -> Iterator[Stack]:
    source = {"name": "prometheus", "kind": "alertmanager", "secret": SECRET}
    with LocalSlack() as slack:
        stack = Stack(
            slack, tmp_path / "opsbot.db", Clock(datetime.now(UTC)), alerts={"sources": [source]}
        )
        yield stack
        stack.stop()


def test_alertmanager_opens_one_incident_per_group_and_resolves_it(
    opsbot: Stack, tmp_path: Path
) -> None:
    binary = alertmanager_binary()
    webhook = opsbot.url.replace("/slack/events", "/alerts/alertmanager/prometheus")
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""route:
  receiver: opsbot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: opsbot
    webhook_configs:
      - url: {webhook}
        http_config:
          authorization:
            credentials: {SECRET}
        send_resolved: true
"""
    )
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v2"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _up(api), timeout=20)
        now = datetime.now(UTC)

        def push(instance: str, ends: datetime | None = None) -> None:
            alert = {
                "labels": {
                    "alertname": "HighErrorRate",
                    "severity": "critical",
                    "instance": instance,
                },
                "annotations": {"summary": f"Error rate above 5% on {instance}"},
                "startsAt": (now - timedelta(minutes=1)).isoformat(),
            }
            if ends is not None:
                alert["endsAt"] = ends.isoformat()
            HTTP.post(f"{api}/alerts", json=[alert], timeout=5).raise_for_status()

        push("api-1")
        push("api-2")
        store = opsbot.deps.store
        wait_until(lambda: len(store.alerts.find()) == 2, timeout=20)
        assert len(store.incidents.find(open_only=False)) == 1  # one group, one incident
        push("api-1")  # a repeat: Alertmanager keeps it to itself until repeat_interval
        time.sleep(3)
        past = datetime.now(UTC) - timedelta(seconds=1)
        push("api-1", ends=past)
        push("api-2", ends=past)
        wait_until(lambda: store.alerts.find() == [], timeout=30)
        opsbot.settle()
        entries = [e.text for e in store.incidents.timeline(1) if e.kind == "alert"]
        assert sum(t.startswith("Alert firing") for t in entries) == 2
        assert sum(t.startswith("Alert resolved") for t in entries) == 2
        offers = [m for m in opsbot.slack.history("#incidents") if "have resolved" in m.text]
        assert len(offers) == 1
    finally:
        process.terminate()
        process.wait(10)


def _up(api: str) -> bool:
    try:
        return HTTP.get(f"{api}/status", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
