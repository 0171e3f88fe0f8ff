"""The HTTP edge of a real `opsbot serve -v`: what garbage, unsigned, oversized and "payload"
requests get, and that no request body ever reaches the log."""

from __future__ import annotations

import hashlib
import hmac
import os
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.store import Store
from bot.tools.localslack import LocalSlack, slash_command
from tests.e2e.conftest import SECRET, Server
from tests.helpers import HTTP

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MARKER = "BODY-MARKER-7f3a"


@pytest.fixture
def loud(workspace: LocalSlack, tmp_path: Path) -> Iterator[Server]:
    """`opsbot -v serve`: INFO logging, where Bolt used to log refused bodies."""
    running = Server(workspace, tmp_path / "opsbot.db", tmp_path / "serve.log", verbose=True)
    yield running.start()
    running.stop()


def command(text: str) -> str:
    return slash_command(
        "/incident",
        text,
        user="U0ALICE01",
        user_name="alice",
        channel="C0CMD",
        response_url="http://127.0.0.1:9/unused",
    )


def raw_post(server: Server, body: bytes, kind: str, headers: dict[str, str]) -> httpx.Response:
    return HTTP.post(
        server.url + "/slack/events",
        content=body,
        headers={**headers, "Content-Type": kind},
        timeout=10,
    )


def sign(body: bytes, stamp: str | None = None) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


GARBAGE = [
    (f"payload={{{MARKER}".encode(), FORM),
    (f'payload=["{MARKER}"]'.encode(), FORM),
    (b"\xff\xfe" + MARKER.encode(), FORM),
    (f'{{"type": "event_callback", "{MARKER}"'.encode(), JSON),
    (f'["{MARKER}"]'.encode(), JSON),
]


def test_unsigned_garbage_is_401_and_never_logged(loud: Server) -> None:
    """Unsigned or wrongly signed requests, whatever their body, get 401: no 500, no
    traceback, and nothing of the body in the log."""
    for body, kind in GARBAGE:
        assert raw_post(loud, body, kind, {}).status_code == 401
        wrong = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=0"}
        assert raw_post(loud, body, kind, wrong).status_code == 401
    text = f"command=%2Fincident&text={MARKER}".encode()
    stale = sign(text, str(int(time.time()) - 600))
    assert raw_post(loud, text, FORM, stale).status_code == 401
    not_a_number = {**sign(text), "X-Slack-Request-Timestamp": "soon"}
    assert raw_post(loud, text, FORM, not_a_number).status_code == 401
    log = loud.log.read_text()
    assert MARKER not in log and "Traceback" not in log


def test_signed_garbage_is_400(loud: Server) -> None:
    """Signed, but not what Slack sends: 400, nothing changed, no traceback."""
    for body, kind in GARBAGE:
        answer = raw_post(loud, body, kind, sign(body))
        assert answer.status_code == 400, body
    log = loud.log.read_text()
    assert MARKER not in log and "Traceback" not in log


def test_a_signed_body_nested_too_deep_is_400(loud: Server) -> None:
    """Signed JSON nested past 64 levels, or past the parser's stack, as an event or as an
    interactive payload: 400 with the reason, no 500, no traceback."""
    for levels in (100, 50_000):
        nested = "[" * levels + "]" * levels
        event = f'{{"type": "event_callback", "event": {nested}}}'.encode()
        click = f"payload={{%22actions%22: {nested}}}".encode()
        for body, kind in ((event, JSON), (click, FORM)):
            answer = raw_post(loud, body, kind, sign(body))
            assert answer.status_code == 400, (levels, kind)
            assert answer.text == "the body nests deeper than 64 levels"
    log = loud.log.read_text()
    assert "Traceback" not in log and "RecursionError" not in log


def test_a_body_over_the_limit_is_413(server: Server) -> None:
    """A signed 2 MB command is refused before it is read, not stored, not echoed."""
    body = command("open P1 " + "x" * 2_000_000).encode()
    answer = raw_post(server, body, FORM, sign(body))
    assert answer.status_code == 413 and len(answer.content) < 10_000
    assert Store(server.db).incidents.find(open_only=False) == []


def test_long_titles_and_texts_get_a_clear_error(server: Server) -> None:
    long_title = command("open P1 " + "t" * 400)
    answer = server.post(long_title, FORM)
    assert answer.status_code == 200 and "A title is at most 150 characters" in answer.text
    long_text = command("update INC-1 " + "u" * 5000)
    answer = server.post(long_text, FORM)
    assert "a command takes at most 3,000" in answer.text
    assert Store(server.db).incidents.find(open_only=False) == []


def test_a_command_that_says_payload_is_handled(server: Server) -> None:
    """Users type "payload" all the time: the command is handled, not answered 404."""
    body = command("open P1 payload-svc returns 502")
    answer = server.post(body, FORM)
    assert answer.status_code == 200 and "INC-1 opened" in answer.text
    assert Store(server.db).incidents.incident(1).title == "payload-svc returns 502"


def test_the_edge_answers_while_the_process_holds_over_1024_files(tmp_path: Path) -> None:
    """select() cannot watch a descriptor numbered past 1024; the edge must not depend on it."""
    from bot.server import make_server

    def hello(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this system allows {hard} open files, too few to pass 1024")
    if soft != resource.RLIM_INFINITY and soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        server = make_server(hello, "127.0.0.1", 0)
        threading.Thread(target=server.run, daemon=True).start()
        try:
            port = server.effective_port
            assert HTTP.get(f"http://127.0.0.1:{port}/", timeout=5).text == "ok"
        finally:
            server.close()
    finally:
        for fd in held:
            os.close(fd)
