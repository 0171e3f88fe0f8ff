"""`scripts/setup` as a newcomer meets it: a Python too old is named with the one needed,
and a .venv made by one is made again rather than kept broken. Stand-in Pythons (small
scripts) play the interpreters, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A Python of a given version: answers the version question; `-m venv DIR` makes a .venv
# whose python is the same stand-in; `-m pip ...` succeeds.
FAKE = """#!/bin/sh
case "$1" in
  -c) echo {version} ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi ;;
  *) exit 1 ;;
esac
"""


def python(folder: Path, version: str) -> Path:
    path = folder / f"python{version}"
    path.write_text(FAKE.format(version=version))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    (folder / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", folder / "scripts" / "setup")
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    return folder


def setup(folder: Path, interpreter: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": str(interpreter)}
    return subprocess.run(
        ["sh", "scripts/setup"], cwd=folder, env=env, capture_output=True, text=True, timeout=30
    )


def test_a_python_too_old_is_named_with_the_one_needed(tmp_path: Path) -> None:
    """Python 3.10 is refused before anything is made, saying 3.11 is needed and how."""
    folder = checkout(tmp_path)
    done = setup(folder, python(tmp_path, "3.10"))
    assert done.returncode == 1
    assert "opsbot needs Python >= 3.11" in done.stderr and "Python 3.10" in done.stderr
    assert "PYTHON=python3.11 ./scripts/setup" in done.stderr
    assert not (folder / ".venv").exists()


def test_a_venv_made_by_a_python_too_old_is_made_again(tmp_path: Path) -> None:
    """A .venv left by Python 3.10 is removed and made with the Python given."""
    folder = checkout(tmp_path)
    old = folder / ".venv" / "bin"
    old.mkdir(parents=True)
    shutil.copy(python(tmp_path, "3.10"), old / "python")
    (folder / ".venv" / "left-by-3.10").touch()
    done = setup(folder, python(tmp_path, "3.11"))
    assert done.returncode == 0, done.stderr
    assert ".venv was made by Python 3.10" in done.stderr
    assert not (folder / ".venv" / "left-by-3.10").exists()
    assert "echo 3.11" in (folder / ".venv" / "bin" / "python").read_text()
    assert list((folder / ".venv").glob(".installed-*"))
