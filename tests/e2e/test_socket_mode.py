"""`opsbot serve --socket` against a local Socket Mode endpoint: no public URL involved."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from bot.store import Store
from bot.tools.localslack import LocalSlack


class SocketEndpoint:
    """Plays Slack's side of Socket Mode: hello, then envelopes in, acks out."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=local"

    def _session(self, ws: ServerConnection) -> None:
        ws.send(
            json.dumps(
                {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0OPSBOT"}}
            )
        )
        sender = threading.Thread(target=self._send, args=(ws,), daemon=True)
        sender.start()
        for message in ws:
            self.inbox.put(json.loads(message))

    def _send(self, ws: ServerConnection) -> None:
        while True:
            ws.send(json.dumps(self.outbox.get()))

    def command(self, envelope_id: str, text: str) -> None:
        self.outbox.put(
            {
                "envelope_id": envelope_id,
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "token": "legacy",
                    "team_id": "T0LOCAL",
                    "team_domain": "local",
                    "channel_id": "C0CMD0001",
                    "channel_name": "ops",
                    "user_id": "U0ALICE01",
                    "user_name": "alice",
                    "command": "/incident",
                    "text": text,
                    "api_app_id": "A0OPSBOT",
                    "is_enterprise_install": "false",
                    "response_url": "http://127.0.0.1:9/unused",
                    "trigger_id": f"1.2.{envelope_id}",  # unique per invocation, as Slack
                },
            }
        )

    def ack_for(self, envelope_id: str, timeout: float = 15) -> dict[str, Any]:
        while True:
            message = self.inbox.get(timeout=timeout)
            if message.get("envelope_id") == envelope_id:
                return message

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def endpoint() -> Iterator[SocketEndpoint]:
    socket_endpoint = SocketEndpoint()
    yield socket_endpoint
    socket_endpoint.close()


def test_open_over_socket_mode(endpoint: SocketEndpoint, tmp_path: Path) -> None:
    """A slash command in a Socket Mode envelope is acked on the socket and its card posted."""
    with LocalSlack() as slack:
        slack.socket_url = endpoint.url
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
        env.update(
            SLACK_BOT_TOKEN="xoxb-socket",
            SLACK_APP_TOKEN="xapp-socket",
            SLACK_API_URL=slack.api_base,
            OPSBOT_DB=str(tmp_path / "opsbot.db"),
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--socket"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            endpoint.command("env-1", "open P1 Login broken")
            ack = endpoint.ack_for("env-1")
            assert "INC-1 opened as P1: Login broken" in ack["payload"]["text"]
            card = slack.wait_for("chat.postMessage", timeout=10)[0]
            assert "INC-1 P1 High: Login broken" in card["text"]
            endpoint.command("env-2", "open")
            assert ack_text(endpoint.ack_for("env-2")).startswith(":warning:")
        finally:
            proc.terminate()
            proc.wait(15)
    assert Store(tmp_path / "opsbot.db").incidents.incident(1).title == "Login broken"
    assert len(slack.methods("apps.connections.open")) >= 1


def ack_text(ack: dict[str, Any]) -> str:
    return str(ack["payload"]["text"])
