"""Small test helpers shared by several suites."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import httpx
import pytest

# One client for the tests' own requests. Building one loads the CA bundle (about 25 ms of
# CPU), which a polling loop did fifty times a second. No keep-alive: a server is killed and
# started again on the same port, and a pooled connection to the dead one would fail.
HTTP = httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0))


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
