"""The house's arrows point one way (docs/architecture.md): read from every module's imports,
so a forbidden direction or a cycle between command packages fails here the day it comes
back."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The composition roots: they assemble a bot from the commands and jobs. `opsbot shell` is one
# too (it assembles a bot around a local workspace).
ROOTS = ("bot.__main__", "bot.cli", "bot.wiring", "bot.serve", "bot.worker", "bot.tools.console")


def modules() -> Iterator[tuple[str, Path]]:
    for top in ("bot", "commands", "jobs"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def imported(path: Path) -> set[str]:
    """Every module `path` imports (a `from x import y` counts as x and as x.y)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


IMPORTS = {name: imported(path) for name, path in modules()}


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offenders(source: tuple[str, ...], target: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{name} -> {found}"
        for name, found_all in IMPORTS.items()
        if under(name, *source) and not under(name, *ROOTS)
        for found in found_all
        if under(found, *target)
    )


def test_the_core_imports_no_command_and_no_job() -> None:
    """bot/ (but the composition roots) imports nothing from commands/ or jobs/."""
    assert offenders(("bot",), ("commands", "jobs")) == []


def test_the_core_plumbing_knows_no_domain_and_no_tool() -> None:
    """What every request touches (bot/*.py, bot/store/) imports neither the domain nor the
    operator tools: it is handed what it needs as tables."""
    plumbing = tuple(
        name
        for name in IMPORTS
        if under(name, "bot") and not under(name, "bot.domain", "bot.tools", *ROOTS)
    )
    found = [
        f"{name} -> {target}"
        for name in plumbing
        for target in IMPORTS[name]
        if under(target, "bot.domain", "bot.tools", *ROOTS)
    ]
    assert found == []


def test_the_domain_imports_only_the_core() -> None:
    """bot/domain/ imports no command, job, tool or root."""
    assert offenders(("bot.domain",), ("commands", "jobs", "bot.tools", *ROOTS)) == []


def test_nothing_but_the_roots_uses_the_operator_tools() -> None:
    """The shell, the local Slack, the doctor and init are reached only from the roots."""
    found = [
        f"{name} -> {target}"
        for name, targets in IMPORTS.items()
        if not under(name, "bot.tools", *ROOTS)
        for target in targets
        if under(target, "bot.tools")
    ]
    assert found == []


def package(name: str) -> str | None:
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "commands" and len(parts) > 1 else None


def test_command_packages_share_the_domain_not_each_others_handlers() -> None:
    """A command package takes at most another's service (never its handlers, renderers or
    parser), and no two command packages import each other, even through a third."""
    reaches: dict[str, set[str]] = {}
    for name, targets in IMPORTS.items():
        mine = package(name)
        if mine is None:
            continue
        for target in targets:
            theirs = package(target)
            if theirs is None or theirs == mine or target == theirs:
                continue
            module = target.split(".")[2] if len(target.split(".")) > 2 else ""
            assert module == "service", f"{name} takes {target}: only a service may be shared"
            reaches.setdefault(mine, set()).add(theirs)

    def through(start: str, seen: set[str]) -> set[str]:
        for nxt in reaches.get(start, set()) - seen:
            seen.add(nxt)
            through(nxt, seen)
        return seen

    assert [p for p in reaches if p in through(p, set())] == []


def test_every_kind_of_outbox_row_is_in_the_roots_table() -> None:
    """A row of a kind the composition root's table lacks would be marked dead: every kind
    the code owes is in it, with nothing registered by importing a module."""
    from bot.wiring import delivery_kinds

    owed: set[str] = set()
    pattern = re.compile(r'(?:enqueue|_enqueue)\(\s*(?:deps,\s*)?"([a-z_.]+)"')
    for _, path in modules():
        owed.update(pattern.findall(path.read_text()))
    assert owed and owed <= set(delivery_kinds())
    assert not re.search(r"^KINDS: dict\[.*\] = \{\}", (ROOT / "bot/outbox.py").read_text(), re.M)


@pytest.mark.parametrize("top", ["bot", "commands", "jobs"])
def test_no_module_is_over_400_lines(top: str) -> None:
    """Past 400 lines a module does more than one thing: split it by what each part does.
    A schema revision is frozen data, not code to read, and is as long as the change."""
    revisions = ROOT / "bot/store/schema/revisions/versions"
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / top).rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 400 and revisions not in path.parents
    }
    assert long == {}
