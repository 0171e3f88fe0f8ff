"""Third parties on loopback (PagerDuty, Statuspage, a notice webhook) with switchable faults,
as the local Slack has: answers are taken from `faults` first, then succeed."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ThirdParty:
    """Records every call. `faults` is a list of what the next calls get: an HTTP status
    (500, 503), `("429", seconds)` for a rate limit with Retry-After, or `("hang", seconds)`
    to answer late. `always` is what every call gets while it is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.faults: list[Any] = []
        self.always: Any = None
        party = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                party.calls.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "body": body,
                        "auth": self.headers.get("Authorization"),
                    }
                )
                fault = party.faults.pop(0) if party.faults else party.always
                if isinstance(fault, tuple) and fault[0] == "hang":
                    time.sleep(fault[1])
                elif isinstance(fault, tuple) and fault[0] == "429":
                    self.send_response(429)
                    self.send_header("Retry-After", str(fault[1]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                elif isinstance(fault, int):
                    self.send_response(fault)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps({"status": "success", "id": "sp-incident-1"}).encode()
                self.send_response(202 if "/enqueue" in self.path else 201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PATCH = do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
