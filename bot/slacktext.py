"""Slack's markup to plain text, once, where text leaves Slack (the status page, Statuspage,
the notice webhook, the post-mortem file).

Slack escapes &, < and > as entities and writes references as <@U…>, <#C…|name>,
<https://…|label> and <!here>. Public text keeps no user ids and no channel names.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"<([@#!])?([^<>|]*)(?:\|([^<>]*))?>")


def plain(text: str, *, public: bool = False, names: Mapping[str, str] | None = None) -> str:
    """`public`: user and channel references are removed (the status page, notices);
    otherwise they are shown by name: the display name in `names` (bot/people.py), else the
    one Slack wrote in the reference, else the id (the post-mortem)."""

    def readable(match: re.Match[str]) -> str:
        kind, target, label = match.group(1), match.group(2), match.group(3)
        if kind == "@":
            return "" if public else "@" + ((names or {}).get(target) or label or target)
        if kind == "#":
            return "" if public else "#" + (label or target)
        if kind == "!":
            name = (label or target).split("^")[0]
            return "" if public else "@" + name.lstrip("@")
        return label or target  # a link: its label, else the address

    converted = html.unescape(_REFERENCE.sub(readable, text))
    if public:  # what a removed reference leaves: doubled spaces
        converted = "\n".join(
            re.sub(r"[ \t]{2,}", " ", line).strip() for line in converted.split("\n")
        )
    return converted
