"""`opsbot shell`: the bot with a local Slack workspace, in a terminal.

The same App, handlers, store and jobs as `opsbot serve`; only the edge differs. Commands go in
as signed requests to the App, and the bot's Web API calls go to a LocalSlack on loopback,
which the shell renders as text: cards with numbered buttons, threads, reactions.

Its parts: shell.py (the Console and its loop), input.py (what each typed line does),
output.py (what the bot does, as text), stand_ins.py (the teammates, a release checkout, the
real targets left out) and clock.py (the clock `wait` moves ahead).
"""

from __future__ import annotations

from bot.tools.console.shell import Console
from bot.tools.console.stand_ins import console_settings

__all__ = ["Console", "console_settings"]
