"""The shell's clock: `wait` moves it ahead, and it is kept beside the shell's database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path


def clock_file(db: Path) -> Path:
    """How far `wait` has moved the bot's clock, beside the shell's database: the incidents
    in it were opened on that clock, so a restart must not turn it back."""
    return db.with_name(db.stem + ".clock.json")


def load_ahead(db: Path) -> timedelta:
    try:
        seconds = float(json.loads(clock_file(db).read_text())["ahead_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return timedelta(0)
    return timedelta(seconds=max(0.0, seconds))


def save_ahead(db: Path, ahead: timedelta) -> None:
    path = clock_file(db)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"ahead_seconds": ahead.total_seconds()}) + "\n")
    partial.replace(path)
