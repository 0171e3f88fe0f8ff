"""mongodump and mongorestore, when they are installed: argv lists, a timeout, no shell.

The connection string goes to the tools in a 0600 config file (their --config option), never
on the command line, where `ps` would show its password to every user of the machine.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.redact import clean_env, redact

ARCHIVE = "dump.archive.gz"
_DUMPED = re.compile(r"done dumping [^.\s]+\.(\S+) \((\d+) documents?\)")
_RESTORED = re.compile(r"finished restoring [^.\s]+\.(\S+) \((\d+) documents?")


class ToolFailed(Exception):
    """The tool exited non-zero or ran out of time; `tail` holds its last lines, redacted."""

    def __init__(self, message: str, tail: list[str]) -> None:
        super().__init__(message)
        self.tail = tail


def available() -> bool:
    return shutil.which("mongodump") is not None and shutil.which("mongorestore") is not None


@contextmanager
def _uri_file(uri: str) -> Iterator[str]:
    handle, path = tempfile.mkstemp(prefix="opsbot-", suffix=".yaml")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, f"uri: {uri!r}\n".replace("'", '"').encode())
        os.close(handle)
        yield path
    finally:
        os.unlink(path)


def _run(
    argv: list[str], pattern: re.Pattern[str], progress: Callable[[str, int], None], timeout: float
) -> dict[str, int]:
    counts: dict[str, int] = {}
    tail: deque[str] = deque(maxlen=30)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(redact(line.rstrip()))
            if match := pattern.search(line):
                counts[match.group(1)] = int(match.group(2))
                progress(match.group(1), int(match.group(2)))
        code = proc.wait()
    finally:
        timer.cancel()
    if code != 0:
        reason = "ran out of time" if code < 0 else f"exited {code}"
        raise ToolFailed(f"{Path(argv[0]).name} {reason}", list(tail))
    return counts


def mongodump(
    uri: str, database: str, folder: Path, progress: Callable[[str, int], None], timeout: float
) -> dict[str, int]:
    """mongodump --archive --gzip into <folder>/dump.archive.gz; the counts it reports."""
    folder.mkdir(parents=True)
    with _uri_file(uri) as config:
        argv = [
            shutil.which("mongodump") or "mongodump",
            f"--config={config}",
            f"--db={database}",
            f"--archive={folder / ARCHIVE}",
            "--gzip",
        ]
        return _run(argv, _DUMPED, progress, timeout)


def mongorestore(
    uri: str,
    folder: Path,
    source: str,
    target: str,
    progress: Callable[[str, int], None],
    timeout: float,
) -> dict[str, int]:
    """Restore the archive's `source` database as `target`, dropping what is there first."""
    with _uri_file(uri) as config:
        argv = [
            shutil.which("mongorestore") or "mongorestore",
            f"--config={config}",
            f"--archive={folder / ARCHIVE}",
            "--gzip",
            f"--nsFrom={source}.*",
            f"--nsTo={target}.*",
            "--drop",
        ]
        return _run(argv, _RESTORED, progress, timeout)


def readable(folder: Path) -> bool:
    """The whole archive decompresses."""
    try:
        with gzip.open(folder / ARCHIVE, "rb") as archive:
            while archive.read(1 << 20):
                pass
    except (OSError, EOFError):
        return False
    return True
