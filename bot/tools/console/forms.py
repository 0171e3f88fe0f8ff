"""Modals in the shell: a form the bot opens (the declare form) is filled in line by line,
one field at a time, and submitted as Slack submits it; what the bot says is wrong is shown
under the field's name and asked again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Ask = Callable[[str], "str | None"]  # a prompt -> the line typed, None at the end of input
CANCEL = "cancel"


class Cancelled(Exception):
    """`cancel` typed, or no more input: the form closes and nothing is sent."""


def fill(view: dict[str, Any], ask: Ask, say: Callable[[str], None]) -> dict[str, Any]:
    """Every input of `view`, asked in turn: {block_id: {action_id: answer}}."""
    title = (view.get("title") or {}).get("text", "Form")
    say(f"┌─ form: {title} (Enter keeps what is [shown]; `{CANCEL}` closes it)")
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") == "input":
            values[block["block_id"]] = {block["element"]["action_id"]: _field(block, ask, say)}
    return values


def again(
    view: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    ask: Ask,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The fields the bot refused, asked again, each with what was wrong."""
    for block in view.get("blocks") or []:
        if block.get("block_id") in errors:
            say(f"│ {block['label']['text']}: {errors[block['block_id']]}")
            values[block["block_id"]] = {block["element"]["action_id"]: _field(block, ask, say)}
    return values


def _field(block: dict[str, Any], ask: Ask, say: Callable[[str], None]) -> Any:
    element, label = block["element"], block["label"]["text"]
    optional = " (optional)" if block.get("optional") else ""
    kind = element["type"]
    if kind in ("static_select", "radio_buttons"):
        options = element["options"]
        for number, option in enumerate(options, 1):
            say(f"│ [{number}] {option['text']['text']}")
        default = (element.get("initial_option") or {}).get("value", "")
        answer = _ask(ask, f"{label} [{default}]: ")
        picked = [
            o["value"]
            for number, o in enumerate(options, 1)
            if answer in (str(number), o["value"].lower())
        ]
        return picked[0] if picked else (answer or default)
    if kind == "checkboxes":
        chosen = []
        for option in element["options"]:
            if _ask(ask, f"{label}: {option['text']['text']}? [y/N]: ") in ("y", "yes"):
                chosen.append(option["value"])
        return chosen
    default = element.get("initial_value", "")
    shown = f" [{default[:60]}{'…' if len(default) > 60 else ''}]" if default else optional
    return _ask(ask, f"{label}{shown}: ", keep_case=True) or default


def _ask(ask: Ask, prompt: str, keep_case: bool = False) -> str:
    line = ask("│ " + prompt)
    if line is None or line.strip().lower() == CANCEL:
        raise Cancelled
    return line.strip() if keep_case else line.strip().lower()
