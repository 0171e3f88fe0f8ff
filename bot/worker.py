"""The composition root of a child process that draws one `/incident stats` report, so its
CPU (reading a big record, drawing charts) never holds the interpreter lock that `opsbot
serve`'s request threads need to answer Slack within 3 s.

`python -m bot.worker` reads one job as JSON on standard input (commands/incident/stats.py
writes it): the settings (secrets included: a pipe, never the command line or the
environment), the moment it was asked, the period and the channel. It owes the figures and
charts as outbox rows in the shared database, which the serve process delivers; it calls
Slack only for people's names and time zones. Its exit code says whether it did.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from bot.config import Settings
from bot.domain.incidents.insights import Period
from bot.redact import remember_settings
from bot.wiring import assemble
from commands.incident import stats


def main() -> int:
    asked = json.loads(sys.stdin.read())
    settings = Settings.model_validate(asked["settings"])
    now = datetime.fromisoformat(asked["now"])
    deps = assemble(settings, asked["token"], clock=lambda: now)
    remember_settings(settings)  # its secrets are masked wherever they would show
    start, end, label = asked["period"]
    tz = settings.tz  # the period in the team's zone: a month's "before" is a month earlier
    period = Period(
        datetime.fromisoformat(start).astimezone(tz),
        datetime.fromisoformat(end).astimezone(tz),
        label,
    )
    try:
        stats.post(deps, stats.gather(deps, period), asked["channel"], asked.get("asked_by"))
    finally:
        deps.store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
