"""The status page as HTML (no JavaScript, readable on a phone) and JSON, with an ETag."""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.deps import Deps
from bot.domain.status import model

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

COLOR = {
    "operational": "#2e7d32",
    "degraded performance": "#f9a825",
    "partial outage": "#ef6c00",
    "major outage": "#c62828",
    "no data": "#9e9e9e",
    "not monitored": "#757575",
}


def as_json(model: dict[str, Any]) -> bytes:
    return json.dumps(model, sort_keys=True).encode()


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def as_html(model: dict[str, Any]) -> bytes:
    e = html.escape
    components = "".join(
        f"<li><span>{e(c['name'])}</span><b style='color:{COLOR[c['status']]}'>"
        f"{e(c['status'])}</b></li>"
        for c in model["components"]
    )
    incidents = (
        "".join(
            f"<article><h2>{e(i['title'])}</h2><p class=impact>{e(i['impact'])} since "
            f"{e(_when(i['since']))}</p>"
            + (
                f"<p>{e(i['latest_update'])}</p>"
                f"<p class=when>Updated {e(_when(i['updated_at']))}</p>"
                if i["latest_update"]
                else ""
            )
            + "</article>"
            for i in model["incidents"]
        )
        or "<p>No current incidents.</p>"
    )
    maintenance = "".join(
        f"<article><h2>Maintenance: {e(m['component'])}</h2><p class=impact>"
        f"{e(_when(m['from']))} to {e(_when(m['until']))}</p><p>{e(m['text'])}</p></article>"
        for m in model.get("maintenance", [])
    )
    strip = "".join(
        f"<i title='{e(d['day'])}: {e(d['status'])}' style='background:{COLOR[d['status']]}'></i>"
        for d in model["history"]
    )
    page = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1">
<title>{e(model["title"])}</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:1rem auto;padding:0 1rem;
color:#222}}
.overall{{padding:1rem;border-radius:.5rem;color:#fff;background:{COLOR[model["status"]]}}}
ul{{list-style:none;padding:0}} li{{display:flex;justify-content:space-between;
border-bottom:1px solid #eee;padding:.5rem 0}}
article{{border-left:4px solid #ef6c00;padding-left:.75rem;margin:1rem 0}}
.impact,.when{{color:#666;font-size:.9rem}} .strip{{display:flex;gap:1px;height:2rem}}
.strip i{{flex:1}}
</style></head><body>
<h1>{e(model["title"])}</h1>
<p class=overall>Overall: {e(model["status"])}</p>
<h2>Components</h2><ul>{components}</ul>
<h2>Current incidents</h2>{incidents}{maintenance}
<h2>Last 90 days</h2><div class=strip>{strip}</div>
<p class=when>Updated {e(_when(model["generated_at"]))}</p>
</body></html>"""
    return page.encode()


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def serve(deps: Deps, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """GET /status and /status.json, the public page: built from public data only; an ETag
    makes repeat readers cheap."""
    path = str(environ.get("PATH_INFO", ""))
    built = model.build(deps, deps.clock())
    body = as_json(built) if path.endswith(".json") else as_html(built)
    kind = "application/json" if path.endswith(".json") else "text/html; charset=utf-8"
    tag = etag(body)
    headers = [
        ("Content-Type", kind),
        ("ETag", tag),
        ("Cache-Control", "public, max-age=30"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if environ.get("HTTP_IF_NONE_MATCH") == tag:
        start_response("304 Not Modified", headers)
        return [b""]
    start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
    return [body] if environ.get("REQUEST_METHOD") == "GET" else [b""]
