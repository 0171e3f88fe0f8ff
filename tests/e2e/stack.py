"""The serve stack in-process, on a controllable clock (see test_timers.py for why)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.deps import Deps
from bot.tools.localslack import LocalSlack, Message, block_action, signed_headers, slash_command
from bot.wiring import assemble, check_token, http_server, recover
from jobs import run_job
from tests.conftest import Clock
from tests.helpers import HTTP

SECRET = "timers-secret"
ALICE = "U0ALICE01"
FORM = "application/x-www-form-urlencoded"


def database_settings(db: Path | str) -> dict[str, Any]:
    """The settings that put the store at `db`: a SQLite file, or a postgresql:// URL."""
    if "://" in str(db):
        return {"opsbot_database_url": str(db)}
    return {"opsbot_db": Path(db)}


class Stack:
    """One run of the bot: store, outbox, HTTP server. `restart()` is a new process's worth."""

    def __init__(
        self, slack: LocalSlack, db: Path | str, clock: Clock, mongo: Any = None, **config: Any
    ) -> None:
        self.slack, self.db, self.clock, self.config = slack, db, clock, config
        self.mongo = mongo
        self.start()

    def start(self) -> None:
        settings = Settings(
            **database_settings(self.db), slack_api_url=self.slack.api_base, **self.config
        )
        self.deps: Deps = assemble(settings, "xoxb-timers", clock=self.clock, mongo=self.mongo)
        self.identity = check_token(self.deps, "xoxb-timers")
        recover(self.deps)  # as `opsbot serve` does at start
        self.server, self.inbox = http_server(
            self.deps, SECRET, "127.0.0.1", 0, lambda: True, self.identity
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}/slack/events"
        self.deps.outbox.start()
        self.inbox.start()
        self._stopping = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # its sockets closed under it by stop(): expected
            if not self._stopping:
                raise

    def stop(self) -> None:
        self._stopping = True
        self.server.close()
        # waitress's request threads outlive close(); each holds its SQLite connection, and a
        # worker running hundreds of stacks runs out of file descriptors.
        self.server.task_dispatcher.shutdown()
        self.inbox.stop()
        self.deps.outbox.stop()
        self.deps.pools.shutdown(wait=True)
        self.deps.http.close()
        self.deps.store.close()

    def settle(self) -> None:
        """Let stored events be processed and owed posts land."""
        self.inbox.drain()
        self.deps.outbox.drain()

    def restart(self) -> None:
        self.stop()
        self.start()

    def command(
        self, text: str, user: str = ALICE, name: str = "/incident", channel: str = "C0CMD"
    ) -> httpx.Response:
        body = slash_command(
            name,
            text,
            user=user,
            user_name="alice",
            channel=channel,
            response_url=self.slack.response_url(),
        )
        return self._post(body)

    def press(self, action: dict, message: Message, user: str = ALICE) -> httpx.Response:
        body = block_action(
            action, message, user=user, user_name="alice", response_url=self.slack.response_url()
        )
        return self._post(body)

    def _post(self, body: str) -> httpx.Response:
        headers = {**signed_headers(body, SECRET), "Content-Type": FORM}
        return HTTP.post(self.url, content=body.encode(), headers=headers, timeout=10)

    def oncall(self, text: str, user: str = ALICE) -> httpx.Response:
        return self.command(text, user, name="/oncall")

    def run(self, job: str, **delta: float) -> str:
        """Let time pass and run one job as the scheduler would."""
        self.clock.advance(**delta)
        result = run_job(job, self.deps, now=self.clock())
        self.settle()
        return result

    def tick(self, **delta: float) -> str:
        return self.run("incident-timers", **delta)

    def card(self) -> Message:
        return [m for m in self.slack.history("#incidents") if not m.thread_ts][0]

    def thread(self) -> list[str]:
        return [m.text for m in self.slack.history("#incidents") if m.thread_ts]
