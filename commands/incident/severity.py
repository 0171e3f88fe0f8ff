"""A severity wherever people write it in a line (`P1`, `p1`, `sev1`, `SEV-1`, `sev 1`, `(P1)`,
a team's own level names), and a question rather than a guess when a line could mean two."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from bot.replies import UserError

# How people write a severity: P1, p1, sev1, SEV-1, severity1; "sev 1" is two words.
_SEVERITY_FORM = re.compile(r"^(?:p|sev-?|severity-?)(\d{1,3})$", re.IGNORECASE)


_SEVERITY_WORDS = ("sev", "severity")


_SEVERITY_NUMBER = re.compile(r"^p?(\d{1,3})$", re.IGNORECASE)


_WRAPPING = "()[]{}:,;."  # "(P1)", "P1:" and "[sev 1]" name a severity too


QUOTED = re.compile(r'"([^"]*)"|“([^”]*)”')


@dataclass(frozen=True)
class Found:
    """A severity written in a line: words[start:end], as typed, and the configured level
    it names (None when it names none, like `P7`)."""

    start: int
    end: int
    typed: str
    name: str | None


def severity_at(words: list[str], i: int, severities: Collection[str]) -> Found | None:
    """The severity written at words[i] (`P1`, `sev1`, `SEV-1`, `sev 1`, a configured name)."""
    word = words[i].strip(_WRAPPING)
    if word.upper() in severities:
        return Found(i, i + 1, words[i], word.upper())
    if form := _SEVERITY_FORM.match(word):
        return Found(i, i + 1, words[i], _numbered(form.group(1), severities))
    if word.lower() in _SEVERITY_WORDS and i + 1 < len(words):
        number = _SEVERITY_NUMBER.match(words[i + 1].strip(_WRAPPING))
        if number:
            typed = f"{words[i]} {words[i + 1]}"
            return Found(i, i + 2, typed, _numbered(number.group(1), severities))
    return None


def _numbered(number: str, severities: Collection[str]) -> str | None:
    """The level numbered `number`: P1, or a team's own SEV1."""
    wanted = int(number)
    named = [s for s in severities if (m := re.search(r"(\d+)$", s)) and int(m.group(1)) == wanted]
    if f"P{wanted}" in severities:
        return f"P{wanted}"
    return named[0] if len(named) == 1 else None


def severities_in(words: list[str], severities: Collection[str]) -> list[Found]:
    found: list[Found] = []
    i = 0
    while i < len(words):
        hit = severity_at(words, i, severities)
        if hit:
            found.append(hit)
        i = hit.end if hit else i + 1
    return found


def unknown_severity(found: Found, severities: Collection[str]) -> UserError:
    known = ", ".join(sorted(severities))
    return UserError(
        f"Unknown severity `{found.typed}`: use one of {known} (a title that mentions it "
        'goes in quotes: `/incident open P1 "…"`).'
    )


def severity_outside(text: str, severities: Collection[str]) -> str | None:
    """Beside a quoted title there is room for one severity and nothing else."""
    words = text.split()
    found = severities_in(words, severities)
    if len(found) > 1 or sum(f.end - f.start for f in found) != len(words):
        raise UserError(
            'Beside a quoted title goes one severity and nothing else: `/incident open P1 "Login '
            'broken"`.'
        )
    if found and found[0].name is None:
        raise unknown_severity(found[0], severities)
    return found[0].name if found else None


def severity_and_title(words: list[str], severities: Collection[str]) -> tuple[str | None, str]:
    """A severity first or last is the severity; one inside the title, or two different
    ones, could mean two things, so the person is asked rather than guessed for."""
    found = severities_in(words, severities)
    edges = [f for f in found if f.start == 0 or f.end == len(words)]
    for hit in edges:
        if hit.name is None:
            raise unknown_severity(hit, severities)
    named = [f for f in found if f.name]
    levels = sorted({f.name for f in named if f.name})
    if len(levels) > 1:
        title = without(words, named)
        choices = " or ".join(f"`/incident open {level} {title}`" for level in levels)
        typed = " and ".join(f"`{f.typed}`" for f in named)
        raise UserError(f"{typed} are different severities: which one? {choices}.")
    if named and not any(f in edges for f in named):
        hit = named[0]
        raise UserError(
            f"Is `{hit.typed}` the severity, or part of the title? "
            f"`/incident open {hit.name} {without(words, [hit])}` opens it as {hit.name}; "
            f'`/incident open "{" ".join(words)}"` keeps it in the title.'
        )
    severity = named[0].name if named else None
    return severity, without(words, [f for f in named if f in edges])


def without(words: list[str], found: list[Found]) -> str:
    dropped = {i for f in found for i in range(f.start, f.end)}
    return " ".join(w for i, w in enumerate(words) if i not in dropped)


def named(found: Found, severities: Collection[str]) -> str:
    if found.name is None:
        known = ", ".join(sorted(severities))
        raise UserError(f"Unknown severity `{found.typed}`: use one of {known}.")
    return found.name
