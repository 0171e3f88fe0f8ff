"""Small test helpers shared by several suites."""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

# One client for the tests' own requests. Building one loads the CA bundle (about 25 ms of
# CPU), which a polling loop did fifty times a second. No keep-alive: a server is killed and
# started again on the same port, and a pooled connection to the dead one would fail.
HTTP = httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0))


def all_at_once(work: Callable[[int], None], threads: int) -> None:
    """Run work(0) .. work(threads - 1) on threads of their own, started together, and fail
    with what any of them raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(n: int) -> None:
        start.wait()
        try:
            work(n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    running = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    assert errors == []


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
