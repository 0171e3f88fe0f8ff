"""`/incident` text -> one frozen dataclass per subcommand. Pure; bad input raises UserError."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from datetime import date

from bot.replies import UserError, clip
from commands.incident.args import (
    Ack,
    Action,
    Actions,
    Args,
    Comms,
    Done,
    Edit,
    Help,
    List,
    Notify,
    Open,
    Postmortem,
    Public,
    PublicTitle,
    Reopen,
    Resolve,
    Role,
    Sev,
    Show,
    Stats,
    Status,
    Timeline,
    Update,
    When,
)
from commands.incident.dates import due_date, when_typed
from commands.incident.severity import (
    QUOTED,
    named,
    severities_in,
    severity_and_title,
    severity_at,
    severity_outside,
)

# What callers take from here: parse() and what it returns.
__all__ = [
    "USAGE",
    "parse",
    "usage_line",
    "Ack",
    "Action",
    "Actions",
    "Args",
    "Comms",
    "Done",
    "Edit",
    "Help",
    "List",
    "Notify",
    "Open",
    "Postmortem",
    "Public",
    "PublicTitle",
    "Reopen",
    "Resolve",
    "Role",
    "Sev",
    "Show",
    "Stats",
    "Status",
    "Timeline",
    "Update",
    "When",
]

USAGE = """*Usage:* `/incident <subcommand>` (`/incident` alone: a form to declare one)
• `open [P0|P1|P2|P3] <title> [--private]`: declare an incident (severity defaults to P2;
  `P1`, `sev1`, `SEV-1` or `sev 1` first or last; a title that mentions one goes in quotes;
  `--private`: its own channel, when it gets one, is private)
• `ack [INC-n]`: acknowledge
• `update [INC-n] [at HH:MM] <text>`: status update, or a note of what happened at HH:MM
• `status [INC-n] investigating|identified|mitigating|monitoring` · `sev [INC-n] <P0-P3>`
• `lead [INC-n] @user` · `role [INC-n] commander|comms @user`: hand over a role
• `edit [INC-n] #<entry> [at HH:MM] [text]`: correct a timeline entry (the old one is kept)
• `action [INC-n] @owner <text> [due YYYY-MM-DD]` · `actions [INC-n]` · `done [INC-n] A<n>`
• `public [INC-n] <text>`: a public update (status page) · `public-title [INC-n] <title>`
• `comms [INC-n]`: draft the user notification · `notify [INC-n]`: send it (webhook)
• `resolve [INC-n] [summary]` · `reopen INC-n [why]`: a resolved incident, open again
• `list [open|all] [P1] [page N]` · `show [INC-n]` · `timeline [INC-n]`
• `postmortem [INC-n]` · `stats [30d|90d|YYYY-MM]`: response times and incidents per week,
  with charts · `help`
Leave out `INC-n` when exactly one incident is open, or in the incident's own channel."""

# One line per subcommand: what a mistake is answered with, under the one-line complaint.
LINES = {
    "open": "`/incident open [P0|P1|P2|P3] <title>`",
    "ack": "`/incident ack [INC-n]`",
    "resolve": "`/incident resolve [INC-n] [summary]`",
    "reopen": "`/incident reopen INC-n [why]`",
    "update": "`/incident update [INC-n] [at HH:MM] <text>`",
    "sev": "`/incident sev [INC-n] <P0-P3>`",
    "status": "`/incident status [INC-n] investigating|identified|mitigating|monitoring`",
    "lead": "`/incident lead [INC-n] @user`",
    "role": "`/incident role [INC-n] commander|comms @user`",
    "edit": "`/incident edit [INC-n] #<entry> [at HH:MM] [text]`",
    "action": "`/incident action [INC-n] @owner <text> [due YYYY-MM-DD|tomorrow|friday|+3d]`",
    "done": "`/incident done [INC-n] A<n>`",
    "public": "`/incident public [INC-n] <text>`",
    "public-title": "`/incident public-title [INC-n] <title>`",
    "list": "`/incident list [open|all] [P0-P3] [page N]`",
    "stats": "`/incident stats [30d|90d|YYYY-MM]`",
}
ALIASES = {"acknowledge": "ack", "severity": "sev"}
HELP_HINT = "`/incident help` lists every subcommand."


def usage_line(verb: str) -> str:
    line = LINES.get(ALIASES.get(verb, verb), f"`/incident {verb} [INC-n]`")
    return f"*Usage:* {line} · {HELP_HINT}"


STATUSES = ("investigating", "identified", "mitigating", "monitoring")
_REF = re.compile(r"^(?:INC-?)?(\d+)$", re.IGNORECASE)
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_DUE = re.compile(r"\s+due\s+(\S+)$", re.IGNORECASE)
_ENTRY = re.compile(r"^#(\d+)$")
_ITEM = re.compile(r"^A(\d+)$", re.IGNORECASE)


MAX_TEXT = 3000  # a command's text: what one Slack section shows
MAX_DIGITS = 18  # an id with more cannot be stored (SQLite's integers stop at 2**63 - 1)
MAX_TITLE = 150  # an incident's title: what a Slack header shows


def parse(text: str, severities: Collection[str], today: date | None = None) -> Args:
    """`today` (the team's date) resolves relative due dates: tomorrow, friday, +3d."""
    verb = text.strip().partition(" ")[0].lower()
    try:
        return _parse(text, severities, today or date.today())
    except UserError as error:
        if error.usage is None and verb in _WITH_REF.keys() | {"open", "list"}:
            error.usage = usage_line(verb)
        raise


def _parse(text: str, severities: Collection[str], today: date) -> Args:
    if len(text) > MAX_TEXT:
        raise UserError(
            f"That is {len(text):,} characters; a command takes at most {MAX_TEXT:,}. "
            "Put the details in the incident's thread."
        )
    verb, _, rest = text.strip().partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("", "help"):
        return Help()
    if verb == "open":
        return _open(rest, severities)
    if verb == "list":
        return _list(rest, severities)
    if verb == "stats":
        return Stats(rest)
    parser = _WITH_REF.get(verb)
    if parser is None:
        raise _unknown(verb)
    ref, rest = _split_ref(rest)
    if verb == "action":
        return _action(ref, rest, today)
    return parser(ref, rest, severities)


def _unknown(verb: str) -> UserError:
    close = difflib.get_close_matches(verb, [*_WITH_REF, "open", "list", "stats", "help"], n=1)
    guess = f" Did you mean `{close[0]}`?" if close else ""
    return UserError(f"Unknown subcommand `{verb}`.{guess}", HELP_HINT)


def _open(rest: str, severities: Collection[str]) -> Open:
    private = "--private" in rest.split()
    rest = " ".join(word for word in rest.split(" ") if word != "--private")
    quoted = QUOTED.search(rest)
    if quoted:
        title = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
        severity = severity_outside(rest[: quoted.start()] + " " + rest[quoted.end() :], severities)
    else:
        severity, title = severity_and_title(rest.split(), severities)
    if not title.strip():
        raise UserError("An incident needs a title: `/incident open P1 Login broken`.")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise UserError(
            f"A title is at most {MAX_TITLE} characters (this one has {len(title)}); "
            "add the details with `/incident update` once it is open."
        )
    return Open(title=title, severity=severity, private=private)


def _list(rest: str, severities: Collection[str]) -> List:
    words = rest.lower().split()
    everything, severity, page = False, None, 1
    while words:
        level = severity_at(words, 0, severities)
        if level is not None:
            severity = named(level, severities)
            del words[: level.end]
            continue
        word = words.pop(0)
        if word in ("open", "all"):
            everything = word == "all"
        elif word == "page" and words and words[0].isdigit() and 0 < int(words[0]) < 10_000:
            page = int(words.pop(0))
        else:
            raise UserError(f"`list` takes `open` or `all`, a severity and `page N`, not `{word}`.")
    return List(everything, severity, page)


def _split_ref(rest: str) -> tuple[int | None, str]:
    first, _, remainder = rest.partition(" ")
    match = _REF.match(first)
    if match and (first.upper().startswith("INC") or not remainder):
        return _id(match.group(1), first, "an incident id"), remainder.strip()
    return None, rest


def _id(digits: str, typed: str, what: str) -> int:
    if len(digits.lstrip("0")) > MAX_DIGITS:
        raise UserError(f"`{clip(typed, 30)}` is too large to be {what}.")
    return int(digits)


def _no_more(verb: str, rest: str) -> None:
    if rest:
        raise UserError(f"`{verb}` takes only an incident id, not `{rest}`.")


def _ack(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    _no_more("ack", rest)
    return Ack(ref)


def _resolve(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    first = rest.partition(" ")[0]
    if ref is not None and _REF.match(first) and first.upper().startswith("INC"):
        raise UserError(f"Resolve one incident at a time: `{first}` is a second id, not a summary.")
    return Resolve(ref, " ".join(rest.split()) or None)


def _update(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    at, rest = when_typed(rest)
    if not rest:
        raise UserError("An update needs text: `/incident update INC-3 Rolled back`.")
    return Update(text=rest, ref=ref, at=at)


def _edit(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    first, _, rest = rest.partition(" ")
    match = _ENTRY.match(first)
    if not match:
        raise UserError("Name the entry to edit: `/incident edit INC-3 #7 at 10:02`.")
    entry = _id(match.group(1), first, "a timeline entry")
    at, text = when_typed(rest.strip())
    if at is None and not text:
        raise UserError("Give a new time (`at HH:MM`), new text, or both.")
    return Edit(entry, text or None, at, ref)


def _role(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    role, _, who = rest.partition(" ")
    if role.lower() not in ("commander", "comms"):
        raise UserError("`role` takes `commander` or `comms`, then an @user.")
    return Role(role.lower(), _user(who.strip(), "role"), ref)


def _user(text: str, verb: str) -> str:
    match = _USER.match(text)
    if not match:
        raise UserError(f"`{verb}` takes one @user: `/incident {verb} INC-3 @alice`.")
    return match.group(1)


def _action(ref: int | None, rest: str, today: date) -> Args:
    who, _, text = rest.partition(" ")
    if not _USER.match(who):
        raise UserError(
            "An action item starts with its owner: `/incident action INC-3 @bob Add an index`."
        )
    owner = _user(who, "action")
    text = " " + text
    due_match = _DUE.search(text)
    due = None
    if due_match:
        due = due_date(due_match.group(1), today).isoformat()
        text = text[: due_match.start()]
    if not text.strip():
        raise UserError("An action item needs text: `/incident action @bob Add an index`.")
    return Action(owner, " ".join(text.split()), due, ref)


def _done(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    match = _ITEM.match(rest)
    if not match:
        raise UserError("Name the action item: `/incident done INC-3 A2`.")
    return Done(_id(match.group(1), rest, "an action item"), ref)


def _sev(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    words = rest.split()
    found = severities_in(words, severities)
    if len(found) != 1 or found[0].end - found[0].start != len(words):
        raise UserError("`sev` takes one severity: `/incident sev INC-3 P1`.")
    return Sev(severity=named(found[0], severities), ref=ref)


def _status(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    if rest.lower() in ("resolved", "resolve", "closed", "fixed"):
        target = f" INC-{ref}" if ref else ""
        raise UserError(f"To close an incident use `/incident resolve{target} [summary]`.")
    if rest.lower() not in STATUSES:
        raise UserError(f"`status` takes one of {', '.join(STATUSES)}.")
    return Status(status=rest.lower(), ref=ref)


def _lead(ref: int | None, rest: str, severities: Collection[str]) -> Args:
    return Role("commander", _user(rest, "lead"), ref)


Parser = Callable[[int | None, str, Collection[str]], Args]


def _only_ref(
    kind: type[Show]
    | type[Timeline]
    | type[Postmortem]
    | type[Actions]
    | type[Comms]
    | type[Notify],
    verb: str,
) -> Parser:
    def parse_ref(ref: int | None, rest: str, severities: Collection[str]) -> Args:
        _no_more(verb, rest)
        return kind(ref)

    return parse_ref


_WITH_REF: dict[str, Parser] = {
    "ack": _ack,
    "acknowledge": _ack,
    "resolve": _resolve,
    "reopen": lambda ref, rest, sev: Reopen(ref, " ".join(rest.split()) or None),
    "update": _update,
    "sev": _sev,
    "severity": _sev,
    "status": _status,
    "lead": _lead,
    "show": _only_ref(Show, "show"),
    "timeline": _only_ref(Timeline, "timeline"),
    "postmortem": _only_ref(Postmortem, "postmortem"),
    "edit": _edit,
    "role": _role,
    "action": lambda ref, rest, sev: _action(ref, rest, date.today()),
    "actions": _only_ref(Actions, "actions"),
    "done": _done,
    "comms": _only_ref(Comms, "comms"),
    "public": lambda ref, rest, sev: Public(_text(rest, "public"), ref),
    "public-title": lambda ref, rest, sev: PublicTitle(_text(rest, "public-title")[:120], ref),
    "notify": _only_ref(Notify, "notify"),
}


def _text(rest: str, verb: str) -> str:
    if not rest.strip():
        raise UserError(f"`{verb}` needs text: `/incident {verb} INC-3 <text>`.")
    return " ".join(rest.split())
