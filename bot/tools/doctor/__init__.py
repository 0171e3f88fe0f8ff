"""`opsbot doctor`: is this setup going to work? One line per check, with a plain fix.

Each check is a function returning one Result. `opsbot serve` runs the FAST ones (no
network) at start, logs each problem and keeps the outcome for the App Home; `opsbot doctor`
runs them all, Slack and the configured targets included.

The checks by area: files.py (the config, the database, the backup folder, which features
are on), programs.py (git, npm and mongodump, the release checkout, ssh host keys), slack.py
(the tokens, scopes, clock and channels), promptbase.py (Prompt-Base's API and MongoDB).
What a check returns is in result.py; running them all and the report are here.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from bot.config import Settings
from bot.tools.doctor.files import backup_dir, config, database, features
from bot.tools.doctor.programs import host_keys, repo, tools
from bot.tools.doctor.promptbase import targets
from bot.tools.doctor.result import FAIL, OFF, OK, STATE_KEY, Check, Context, Result
from bot.tools.doctor.slack import channels, mode, slack_token

__all__ = [
    "ALL",
    "FAIL",
    "NETWORK",
    "OFF",
    "OK",
    "STATE_KEY",
    "Check",
    "Context",
    "Result",
    "report",
    "run",
]

# In the order a person fixes things: the config, Slack, the bot's own files, the targets.
ALL: list[Check] = [
    config,
    slack_token,
    mode,
    channels,
    database,
    backup_dir,
    targets,
    tools,
    repo,
    host_keys,
    features,
]
NETWORK = {slack_token, mode, channels, targets}


def run(
    settings: Settings, *, socket: bool, fast: bool = False, serving: bool = False
) -> list[Result]:
    ctx = Context(settings, socket, serving)
    results: list[Result] = []
    for check in ALL:
        if fast and check in NETWORK:
            continue
        found = check(ctx)
        results += found if isinstance(found, list) else [found]
    return results


def report(results: list[Result], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(r) for r in results], indent=2)
    failed = sum(r.state == FAIL for r in results)
    tail = f"\n{failed} to fix." if failed else "\nAll good."
    return "\n".join(r.line() for r in results) + tail
