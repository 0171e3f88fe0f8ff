"""The local Slack's HTTP server: the Web API on loopback with the faults Slack can show
(5xx, errors, 429 with Retry-After, slow answers) and its pace for chat.postMessage, the calls
it received, and the sinks for the two other URLs it hands out: response_url and a file's
upload URL."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

from bot.tools.localslack.messages import _blocks
from bot.tools.localslack.workspace import Workspace


@dataclass
class Fault:
    """A failure Slack can show, switched on in the stand-in: for one method (or all), one
    channel (or all), `times` times (or until cleared). `status` 5xx answers that status;
    `error` answers ok:false with that code; `retry_after` answers 429 with Retry-After;
    `delay` waits before answering (past the client's timeout, it is a timeout)."""

    method: str | None = None
    channel: str | None = None
    status: int = 0
    error: str | None = None
    retry_after: float | None = None
    delay: float | tuple[float, float] = 0.0  # seconds, or a range to draw each answer's from
    times: int | None = None
    hits: int = 0
    with_blocks: bool | None = None  # only calls that carry blocks (True) or none (False)

    def matches(self, method: str, channel: str | None, body: dict[str, Any]) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.with_blocks is not None and self.with_blocks != bool(_blocks(body)):
            return False
        return self.channel is None or self.channel == channel


@dataclass(frozen=True)
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]


class Server(Workspace):
    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll (0.02 s): stop() waits for it, 0.5 s by default, in every test.
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_base(self) -> str:
        return self.base + "/api/"

    def response_url(self) -> str:
        return f"{self.base}/respond/{next(self._clock)}"

    # Faults --------------------------------------------------------------------------------

    def fault(self, **spec: Any) -> Fault:
        """Switch a fault on (see Fault); returns it, to count hits or clear it."""
        if isinstance(spec.get("channel"), str):
            spec["channel"] = self.channel_id(spec["channel"])
        made = Fault(**spec)
        with self._lock:
            self.faults.append(made)
        return made

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
            self.pace_per_second = None

    def pace(self, per_second: float, burst: int = 5) -> None:
        self.pace_per_second, self.pace_burst = per_second, burst

    def _fault_for(self, method: str, body: dict[str, Any]) -> Fault | None:
        channel = body.get("channel") or body.get("channel_id")
        channel = self.channel_id(channel) if isinstance(channel, str) and channel else None
        with self._lock:
            for found in self.faults:
                if found.matches(method, channel, body):
                    found.hits += 1
                    return found
        return None

    def _paced_out(self, method: str, body: dict[str, Any]) -> bool:
        """Over the per-channel pace: Slack answers 429 (ratelimited)."""
        if self.pace_per_second is None or method != "chat.postMessage":
            return False
        channel = self.channel_id(str(body.get("channel", "")))
        now = time.monotonic()
        with self._lock:
            tokens, since = self._buckets.get(channel, (float(self.pace_burst), now))
            tokens = min(float(self.pace_burst), tokens + (now - since) * self.pace_per_second)
            if tokens < 1:
                self._buckets[channel] = (tokens, now)
                return True
            self._buckets[channel] = (tokens - 1, now)
        return False

    def methods(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.body for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.methods(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{method}: {len(self.methods(method))} calls, wanted {count}")

    def wait_for_responses(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.responses) >= count:
                return list(self.responses)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.responses)} responses, wanted {count}")

    # Web API -----------------------------------------------------------------------------

    def api(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        result: dict[str, Any] = handler(body)
        return result

    def respond(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self.responses.append(payload)
        self._emit("response", payload)

    def upload(self, file_id: str, content: bytes) -> bool:
        with self._lock:
            if file_id not in self.uploads:
                return False
            try:
                self.uploads[file_id]["content"] = content.decode("utf-8")
            except UnicodeDecodeError:  # an image: kept whole, as base64 (the state is JSON)
                self.uploads[file_id]["content"] = ""
                self.uploads[file_id]["base64"] = base64.b64encode(content).decode()
            return True

    def file_bytes(self, file_id: str) -> bytes:
        """What was uploaded as file `file_id`, byte for byte."""
        with self._lock:
            kept = self.uploads[file_id]
        if "base64" in kept:
            return base64.b64decode(kept["base64"])
        return str(kept["content"]).encode()


def _handler_for(slack: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            # the Date header of every answer, as a Slack whose clock differs would send it
            return super().date_time_string((timestamp or time.time()) + slack.clock_offset)

        def do_POST(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/upload/"):  # a file's bytes, an image's too
                stored = slack.upload(self.path.rsplit("/", 1)[1], sent)
                return self._send(200 if stored else 404, "OK" if stored else "no", "text/plain")
            raw = sent.decode()
            body = _decode(raw, self.headers.get("Content-Type", ""))
            if self.path.startswith("/respond/"):
                slack.respond(body)
                return self._send(200, "ok", "text/plain")
            if not self.path.startswith("/api/"):
                return self._send(404, "not found", "text/plain")
            method = self.path[len("/api/") :]
            slack.calls.append(Call(method, body, dict(self.headers)))
            auth = self.headers.get("Authorization", "")
            # Socket Mode's one Web API call is made with the app-level token.
            prefix = "xapp-" if method == "apps.connections.open" else slack.token_prefix
            if not auth.startswith("Bearer " + prefix):
                return self._json(200, {"ok": False, "error": "invalid_auth"})
            if slack.latency:
                time.sleep(slack.latency)
            fault = slack._fault_for(method, body)
            if fault is not None:
                if fault.delay:
                    low, high = (
                        fault.delay if isinstance(fault.delay, tuple) else (fault.delay,) * 2
                    )
                    time.sleep(random.uniform(low, high))
                if fault.retry_after is not None:
                    wait = {"Retry-After": str(int(fault.retry_after))}
                    return self._json(429, {"ok": False, "error": "ratelimited"}, wait)
                if fault.status:
                    return self._json(fault.status, {"ok": False, "error": "internal_error"})
                if fault.error:
                    return self._json(200, {"ok": False, "error": fault.error})
            if slack._paced_out(method, body):
                return self._json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            scopes = {"x-oauth-scopes": ",".join(sorted(slack.scopes))}
            self._json(200, slack.api(method, body), scopes)

        def _json(
            self, code: int, data: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            self._send(code, json.dumps(data), "application/json", headers)

        def _send(
            self, code: int, text: str, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            payload = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            # The caller may be gone (killed mid-request, as in the crash tests).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

    return Handler


def _decode(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        data: dict[str, Any] = json.loads(raw or "{}")
        return data
    return dict(parse_qsl(raw, keep_blank_values=True))
