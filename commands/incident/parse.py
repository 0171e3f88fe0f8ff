"""`/incident` text -> one frozen dataclass per subcommand. Pure; bad input raises UserError."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.replies import UserError

USAGE = """*Usage:* `/incident <subcommand>`
• `open [P0|P1|P2|P3] <title>`: declare an incident (severity defaults to P2)
• `ack [INC-n]`: acknowledge
• `update [INC-n] <text>`: post a status update to the timeline
• `status [INC-n] investigating|mitigating|monitoring` · `sev [INC-n] <P0-P3>`
• `lead [INC-n] @user`: hand the incident to a new commander
• `resolve [INC-n] [summary]`: resolve, write the post-mortem draft and the resolution notice
• `list [open|all]` · `show [INC-n]` · `timeline [INC-n]` · `postmortem [INC-n]` · `help`
Leave out `INC-n` when exactly one incident is open."""

STATUSES = ("investigating", "mitigating", "monitoring")
_REF = re.compile(r"^(?:INC-?)?(\d+)$", re.IGNORECASE)
_SEVERITY = re.compile(r"^P\d+$", re.IGNORECASE)
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class Open:
    title: str
    severity: str | None = None


@dataclass(frozen=True)
class Ack:
    ref: int | None = None


@dataclass(frozen=True)
class Resolve:
    ref: int | None = None
    summary: str | None = None


@dataclass(frozen=True)
class Update:
    text: str
    ref: int | None = None


@dataclass(frozen=True)
class Sev:
    severity: str
    ref: int | None = None


@dataclass(frozen=True)
class Status:
    status: str
    ref: int | None = None


@dataclass(frozen=True)
class Lead:
    user: str
    ref: int | None = None


@dataclass(frozen=True)
class List:
    everything: bool = False


@dataclass(frozen=True)
class Show:
    ref: int | None = None


@dataclass(frozen=True)
class Timeline:
    ref: int | None = None


@dataclass(frozen=True)
class Postmortem:
    ref: int | None = None


@dataclass(frozen=True)
class Help:
    pass


Args = (
    Open | Ack | Resolve | Update | Sev | Status | Lead | List | Show | Timeline | Postmortem | Help
)


def parse(text: str, severities: Collection[str]) -> Args:
    verb, _, rest = text.strip().partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("", "help"):
        return Help()
    if verb == "open":
        return _open(rest, severities)
    if verb == "list":
        return _list(rest)
    parser = _WITH_REF.get(verb)
    if parser is None:
        raise UserError(f"Unknown subcommand `{verb}`.", USAGE)
    ref, rest = _split_ref(rest)
    return parser(ref, rest, severities)


def _open(rest: str, severities: Collection[str]) -> Open:
    first, _, title = rest.partition(" ")
    severity = None
    if _SEVERITY.match(first):
        severity = _severity(first, severities)
    else:
        title = rest
    if not title.strip():
        raise UserError("An incident needs a title: `/incident open P1 Login broken`.", USAGE)
    return Open(title=" ".join(title.split()), severity=severity)


def _list(rest: str) -> List:
    if rest.lower() not in ("", "open", "all"):
        raise UserError(f"`list` takes `open` or `all`, not `{rest}`.", USAGE)
    return List(everything=rest.lower() == "all")


def _split_ref(rest: str) -> tuple[int | None, str]:
    first, _, remainder = rest.partition(" ")
    match = _REF.match(first)
    if match and (first.upper().startswith("INC") or not remainder):
        return int(match.group(1)), remainder.strip()
    return None, rest


def _severity(token: str, severities: Collection[str]) -> str:
    name = token.upper()
    if name not in severities:
        known = ", ".join(sorted(severities))
        raise UserError(f"Unknown severity `{token}`: use one of {known}.", USAGE)
    return name


def _no_more(verb: str, rest: str) -> None:
    if rest:
        raise UserError(f"`{verb}` takes only an incident id, not `{rest}`.", USAGE)


def _ack(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    _no_more("ack", rest)
    return Ack(ref)


def _resolve(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    return Resolve(ref, " ".join(rest.split()) or None)


def _update(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    if not rest:
        raise UserError("An update needs text: `/incident update INC-3 Rolled back`.", USAGE)
    return Update(text=rest, ref=ref)


def _sev(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    if not rest or " " in rest:
        raise UserError("`sev` takes one severity: `/incident sev INC-3 P1`.", USAGE)
    return Sev(severity=_severity(rest, severities), ref=ref)


def _status(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    if rest.lower() not in STATUSES:
        raise UserError(f"`status` takes one of {', '.join(STATUSES)}.", USAGE)
    return Status(status=rest.lower(), ref=ref)


def _lead(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    match = _USER.match(rest)
    if not match:
        raise UserError("`lead` takes one @user: `/incident lead INC-3 @alice`.", USAGE)
    return Lead(user=match.group(1), ref=ref)


Parser = Callable[[int | None, str, Collection[str]], Args]


def _only_ref(kind: type[Show] | type[Timeline] | type[Postmortem], verb: str) -> Parser:
    def parse_ref(ref: int | None, rest: str, severities: Collection[str]) -> Args:
        _no_more(verb, rest)
        return kind(ref)

    return parse_ref


_WITH_REF: dict[str, Parser] = {
    "ack": _ack,
    "acknowledge": _ack,
    "resolve": _resolve,
    "update": _update,
    "sev": _sev,
    "severity": _sev,
    "status": _status,
    "lead": _lead,
    "show": _only_ref(Show, "show"),
    "timeline": _only_ref(Timeline, "timeline"),
    "postmortem": _only_ref(Postmortem, "postmortem"),
}
