"""Small test helpers shared by several suites."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest


def programs_on_path(
    monkeypatch: pytest.MonkeyPatch, folder: Path, programs: dict[str, str]
) -> Path:
    """Install stand-in programs (Python sources with a {python} placeholder for the shebang)
    as real executables in `folder`, first on PATH for this test."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in programs.items():
        path = folder / name
        path.write_text(source.format(python=sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder
