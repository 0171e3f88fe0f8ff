"""The README fits on a few screens and the reference in docs/ keeps every fact: every slash
command and subcommand the parsers accept, every job and every setting is documented, the
manifest's usage hints name every subcommand, and no link points nowhere."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.config import Settings
from bot.deps import Deps
from bot.replies import UserError
from bot.tools import init
from commands import alerts
from commands.backup import handlers as backup
from commands.health import handlers as health
from commands.incident import parse as incident
from commands.oncall import parse as oncall
from commands.rollback import handlers as rollback
from tests.test_init import fields, written
from tests.test_wiring import ROOT, manifest

DOCS = ROOT / "docs"
# Other names the parsers accept for a subcommand the usage hint already names (or for
# the bare command): the docs name them, the hints need not.
ALIASES = {
    "/incident": {"acknowledge", "severity"},
    "/oncall": {"now", "who"},
    "/alerts": {"list"},
}


def candidates(package: str) -> set[str]:
    """Every word in a command's code's strings: what its parser might accept."""
    words = set()
    for path in (ROOT / "commands" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words |= set(re.findall(r"[a-z][a-z-]*", node.value))  # in regexes too
    return words


def accepted(try_it: Callable[[str], Any], words: set[str]) -> set[str]:
    """The words the parser takes as a subcommand: anything but "Unknown …"."""
    found = set()
    for word in words:
        try:
            try_it(word)
        except UserError as exc:
            if exc.message.startswith("Unknown"):
                continue
        found.add(word)
    return found


@pytest.fixture
def subcommands(deps: Deps) -> dict[str, set[str]]:
    def alerts_command(word: str) -> None:
        alerts.handle(lambda **_: None, {"text": word, "user_id": "U1"}, {"deps": deps})

    def rollback_command(word: str) -> None:
        if rollback.parse(word).verb == "preview":  # any other word is a release tag
            raise UserError("Unknown: a tag")

    found = {
        "/incident": accepted(lambda w: incident.parse(w, ["P0", "P1"]), candidates("incident")),
        "/oncall": accepted(oncall.parse, candidates("oncall")),
        "/health": accepted(health.parse, candidates("health")),
        "/backup": accepted(backup.parse, candidates("backup")),
        "/rollback": accepted(rollback_command, candidates("rollback")),
        "/alerts": accepted(alerts_command, candidates("alerts")),
    }
    assert {"public-title", "notify"} <= found["/incident"]  # the probe finds them
    assert {"log", "security"} <= found["/health"] and "mark" in found["/rollback"]
    return found


def test_the_manifests_usage_hints_name_every_subcommand(
    subcommands: dict[str, set[str]],
) -> None:
    """Each command's usage hint in manifest.yml names every subcommand its parser accepts."""
    hints = {c["command"]: c["usage_hint"] for c in manifest()["features"]["slash_commands"]}
    for command, words in subcommands.items():
        missing = {
            w
            for w in words - ALIASES.get(command, set())
            if not re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", hints[command])
        }
        assert not missing, f"{command}: {sorted(missing)}"


def test_every_command_and_subcommand_is_documented(subcommands: dict[str, set[str]]) -> None:
    """docs/commands.md's table names every subcommand, aliases included, on its command's
    row (`/incident` has a table of its own)."""
    page = (DOCS / "commands.md").read_text()
    section = page.split("\n## Slash commands", 1)[1].split("\n## ", 1)[0]
    for command, words in subcommands.items():
        rows = re.findall(rf"^\| `{command}` \|.*$", section, re.MULTILINE)
        assert len(rows) == 1, command
        text = rows[0] + (
            section.split("`/incident`'s subcommands:", 1)[1] if command == "/incident" else ""
        )
        missing = {w for w in words if not re.search(rf"`{re.escape(w)}(?=[`\s\[<(])", text)}
        assert not missing, f"{command}: {sorted(missing)}"


def test_every_job_and_every_setting_is_documented() -> None:
    """Every job has a row in docs/jobs.md; every setting of the config models is in
    docs/configuration.md, whose opsbot.toml is exactly what `opsbot init` writes."""
    from jobs import JOBS

    rows = set(re.findall(r"^\| `([a-z-]+)` \| ", (DOCS / "jobs.md").read_text(), re.MULTILINE))
    assert set(JOBS) <= rows, set(JOBS) - rows
    page = (DOCS / "configuration.md").read_text()
    shown = page.split("## opsbot.toml: every setting", 1)[1].split("```toml\n", 1)[1]
    assert shown.split("```", 1)[0] == init.config("#incidents", None)
    assert fields(Settings) - {"opsbot_config"} <= written(shown.split("```", 1)[0])
    assert "`OPSBOT_CONFIG`" in page


def headings(text: str) -> set[str]:
    """GitHub's anchors for a page's headings."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    titles = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", t.lower()).replace(" ", "-") for t in titles}


def test_the_readme_fits_and_every_link_lands() -> None:
    """The README is at most 150 lines and links to each docs page; each page has a
    contents list; every relative link and anchor exists."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    pages = sorted(DOCS.glob("*.md"))
    assert len(pages) >= 8
    for page in pages:
        assert f"(docs/{page.name})" in readme, page.name
        assert "\n## Contents\n" in page.read_text(), page.name
    for source in [ROOT / "README.md", *pages]:
        text = re.sub(r"```.*?```", "", source.read_text(), flags=re.DOTALL)
        for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]+))?\)", text):
            path = (source.parent / target) if target else source
            assert path.exists(), f"{source.name}: {target}"
            if anchor:
                assert anchor in headings(path.read_text()), f"{source.name}: {target}#{anchor}"
