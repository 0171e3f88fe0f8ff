"""What `/incident` was asked to do: one frozen dataclass per subcommand (parse.py makes them,
handlers.py runs them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class When:
    """A wall-clock time someone typed ("at 10:02"), in the team's zone; a date if given."""

    hour: int
    minute: int
    day: date | None = None


@dataclass(frozen=True)
class Open:
    title: str
    severity: str | None = None
    private: bool = False  # --private: its channel, when it gets one, is private


@dataclass(frozen=True)
class Ack:
    ref: int | None = None


@dataclass(frozen=True)
class Resolve:
    ref: int | None = None
    summary: str | None = None


@dataclass(frozen=True)
class Stats:
    period: str = ""  # as typed: 30d, 90d, 2026-11 (read by bot/domain/incidents/insights.py)


@dataclass(frozen=True)
class Reopen:
    ref: int | None = None
    why: str | None = None


@dataclass(frozen=True)
class Update:
    text: str
    ref: int | None = None
    at: When | None = None


@dataclass(frozen=True)
class Edit:
    entry: int
    text: str | None = None
    at: When | None = None
    ref: int | None = None


@dataclass(frozen=True)
class Role:
    role: str
    user: str
    ref: int | None = None


@dataclass(frozen=True)
class Action:
    owner: str
    text: str
    due: str | None = None
    ref: int | None = None


@dataclass(frozen=True)
class Actions:
    ref: int | None = None


@dataclass(frozen=True)
class Done:
    item: int
    ref: int | None = None


@dataclass(frozen=True)
class Comms:
    ref: int | None = None


@dataclass(frozen=True)
class Public:
    text: str
    ref: int | None = None


@dataclass(frozen=True)
class PublicTitle:
    title: str
    ref: int | None = None


@dataclass(frozen=True)
class Notify:
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
class List:
    everything: bool = False
    severity: str | None = None
    page: int = 1


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
    Open
    | Ack
    | Resolve
    | Reopen
    | Stats
    | Update
    | Sev
    | Status
    | Role
    | List
    | Show
    | Timeline
    | Postmortem
    | Help
    | Edit
    | Action
    | Actions
    | Done
    | Comms
    | Public
    | PublicTitle
    | Notify
)
