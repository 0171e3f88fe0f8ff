"""Release tags of the Prompt-Base checkout, read with git as a subprocess (argv, no shell)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.programs import git
from bot.replies import UserError

_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str
    subject: str


def semver_key(tag: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """v1.10.0 after v1.9.0; v2.0.0-rc.1 after v1.x and before v2.0.0 (SemVer precedence)."""
    match = _SEMVER.match(tag)
    assert match, tag
    major, minor, patch, pre = match.groups()
    if pre is None:
        return int(major), int(minor), int(patch), 1, ()
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return int(major), int(minor), int(patch), 0, parts


def newer(tag: str, than: str | None) -> bool:
    """`tag` is a later release than `than` (False when either is not a release tag)."""
    if not than or not _SEMVER.match(tag) or not _SEMVER.match(than):
        return False
    return semver_key(tag) > semver_key(than)


def releases(repo: Path) -> list[str]:
    """The repository's v* tags that are versions, newest first."""
    tags = [t for t in git(repo, "tag", "--list", "v*").split() if _SEMVER.match(t)]
    return sorted(tags, key=semver_key, reverse=True)


def checked_out(repo: Path) -> str | None:
    """The release tag HEAD sits on, if any."""
    tags = [t for t in git(repo, "tag", "--points-at", "HEAD").split() if _SEMVER.match(t)]
    return max(tags, key=semver_key) if tags else None


def validate(repo: Path, tag: str) -> str:
    """`tag` exactly as one of the repository's release tags; anything else is refused."""
    known = releases(repo)
    if tag not in known:
        shown = ", ".join(known[:5]) or "none"
        raise UserError(
            f"`{tag[:60]}` is not a release tag of the Prompt-Base checkout. "
            f"Latest releases: {shown}. Nothing was run."
        )
    return tag


def commit(repo: Path, tag: str) -> Commit:
    sha, date, subject = (
        git(repo, "log", "-1", "--format=%h%x09%cI%x09%s", f"refs/tags/{tag}", "--")
        .strip()
        .split("\t", 2)
    )
    return Commit(sha, date, subject)


def between(repo: Path, older: str, newer: str, limit: int = 15) -> list[Commit]:
    """Commits in `newer` that `older` lacks: what a rollback from newer to older undoes."""
    out = git(
        repo,
        "log",
        f"--max-count={limit}",
        "--format=%h%x09%cI%x09%s",
        f"refs/tags/{older}..refs/tags/{newer}",
        "--",
    )
    return [Commit(*line.split("\t", 2)) for line in out.splitlines() if line]
