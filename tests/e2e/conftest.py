"""Start the real `opsbot serve` as a subprocess on loopback, pointed at a local Slack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.tools.localslack import LocalSlack, signed_headers
from tests.conftest import Clock
from tests.e2e.stack import Stack, database_settings
from tests.helpers import HTTP

SECRET = "e2e-signing-secret"
TOKEN = "xoxb-e2e-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self,
        workspace: LocalSlack,
        db: Path | str,
        log: Path,
        verbose: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workspace, self.db, self.log, self.verbose = workspace, db, log, verbose
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, healthy: bool = True, attempts: int = 3) -> Server:
        """Start `opsbot serve` and wait until /healthz answers (200, or with `healthy=False`
        any answer: a bot that starts while Slack is down is up and degraded) and it has
        said it serves (a port another test took meanwhile would answer for it)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            PORT=str(self.port),
            SLACK_API_URL=self.workspace.api_base,
        )
        env.update({name.upper(): str(v) for name, v in database_settings(self.db).items()})
        env.update(self.extra_env)
        logged = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot",
                    *(["-v"] if self.verbose else []),
                    "serve",
                    "--host",
                    "127.0.0.1",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = self.log.read_text()
                if "Address already in use" in said[logged:] and attempts > 1:
                    # another test took the free port between its choice and the bind
                    self.port = free_port()
                    self.url = f"http://127.0.0.1:{self.port}"
                    return self.start(healthy, attempts - 1)
                raise AssertionError(f"opsbot serve exited: {said}")
            try:
                answered = HTTP.get(self.url + "/healthz", timeout=1).status_code in (
                    (200,) if healthy else (200, 503)
                )
            except httpx.TransportError:
                answered = False
            with self.log.open("rb") as written:
                written.seek(logged)
                serving = b"serving /slack/events" in written.read()
            if answered and serving:
                return self
            time.sleep(0.05)
        raise AssertionError(f"opsbot serve did not come up: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up handlers run, as in a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        secret: str = SECRET,
        timestamp: int | None = None,
    ) -> httpx.Response:
        signed = signed_headers(body, secret, timestamp) if headers is None else headers
        return HTTP.post(
            self.url + "/slack/events",
            content=body.encode(),
            timeout=10,
            headers={**signed, "Content-Type": content_type},
        )


@pytest.fixture
def workspace() -> Iterator[LocalSlack]:
    with LocalSlack() as slack:
        yield slack


@pytest.fixture
def server(workspace: LocalSlack, tmp_path: Path, database: str) -> Iterator[Server]:
    running = Server(workspace, database, tmp_path / "serve.log").start()
    yield running
    running.stop()


@pytest.fixture
def stack(database: str) -> Iterator[Stack]:
    """The serve stack in-process on a controllable clock, default configuration."""
    with LocalSlack() as slack:
        running = Stack(slack, database, Clock(datetime.now(UTC)))
        yield running
        running.stop()
