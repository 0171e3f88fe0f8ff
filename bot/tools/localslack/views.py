"""Modals in the local Slack: views.open as Slack takes it (a trigger_id works once, within 3 s
of the request that carried it; a modal's limits), and the modals open now, for a test or
the shell to fill in and submit (requests.view_submission)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bot.tools.localslack.server import Server

TRIGGER_SECONDS = 3.0  # views.open reference: "trigger_id ... expires in 3 seconds"
TITLE_MAX = 24  # a modal's title, submit and close: 24 characters
METADATA_MAX = 3000  # private_metadata
BLOCKS_MAX = 100


@dataclass
class View:
    """A modal open in the local Slack: who it is for, and what the app sent."""

    id: str
    user: str
    view: dict[str, Any]


class Views(Server):
    def views(self) -> list[View]:
        """The modals open now, oldest first."""
        return list(self.__dict__.setdefault("open_views", []))

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        trigger = str(body.get("trigger_id") or "")
        issued = _issued(trigger)
        if issued is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        used: set[str] = self.__dict__.setdefault("used_triggers", set())
        with self._lock:
            if trigger in used:
                return {"ok": False, "error": "trigger_exchanged"}
            used.add(trigger)
        if time.time() - issued > TRIGGER_SECONDS:
            return {"ok": False, "error": "trigger_expired"}
        view = body.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        problem = _invalid(view)
        if problem:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": problem}
        assert isinstance(view, dict)
        with self._lock:
            opened: list[View] = self.__dict__.setdefault("open_views", [])
            made = View(f"V{len(opened) + 1:08d}", trigger.split(".", 2)[-1], view)  # its user
            opened.append(made)
        return {"ok": True, "view": {"id": made.id, **view}}

    def close_view(self, view_id: str) -> None:
        with self._lock:
            opened: list[View] = self.__dict__.setdefault("open_views", [])
            opened[:] = [v for v in opened if v.id != view_id]


def _issued(trigger: str) -> float | None:
    """When the request carrying this trigger_id was sent (requests.py makes them so)."""
    try:
        seconds, micros, _ = trigger.split(".", 2)
        return float(f"{seconds}.{micros}")
    except ValueError:
        return None


def _invalid(view: Any) -> dict[str, list[str]] | None:
    """What Slack would refuse in a modal: its type, title length, blocks, metadata size."""
    messages: list[str] = []
    if not isinstance(view, dict) or view.get("type") != "modal":
        return {"messages": ["[ERROR] must be a modal view"]}
    for part in ("title", "submit", "close"):
        text = (view.get(part) or {}).get("text", "")
        if part == "title" and not text:
            messages.append("[ERROR] missing required field: title")
        if len(text) > TITLE_MAX:
            messages.append(
                f"[ERROR] must be less than {TITLE_MAX + 1} characters "
                f"[json-pointer:/view/{part}/text]"
            )
    if len(view.get("blocks") or []) > BLOCKS_MAX:
        messages.append(
            f"[ERROR] no more than {BLOCKS_MAX} items allowed [json-pointer:/view/blocks]"
        )
    if len(view.get("private_metadata") or "") > METADATA_MAX:
        messages.append(
            "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
        )
    return {"messages": messages} if messages else None
