"""The shell's loop: the Console reads a line at a time and does it (input.py), runs the jobs
in the foreground as `opsbot serve`'s timers would, and lets `wait` move its clock ahead."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.config import Settings
from bot.deps import Deps
from bot.store import now_utc
from bot.tools import localslack
from bot.tools.console import forms
from bot.tools.console.clock import load_ahead, save_ahead
from bot.tools.console.input import Input, did_you_mean
from bot.tools.console.stand_ins import (
    NOT_HERE,
    REAL_TARGETS,
    STAND_IN_RELEASES,
    TEAM,
    configured_targets,
)
from bot.tools.localslack import LocalSlack, Message
from bot.wiring import apps, assemble
from jobs.scheduler import Scheduler

TICK_SECONDS = 30  # how often the shell runs its jobs, as the server's timers do
WAIT = re.compile(r"^(\d+)\s*(m|min|h|d)$")

HELP = """Type a slash command as in Slack, e.g. `/incident open P1 Login broken`, or:
  press N              press button [N] of the last ones shown
  press mK N           press button N of message mK
  reply mN <text>      reply in the thread of message mN (the label on each message)
  shortcut mN declare  declare an incident from message mN (a form, as in Slack)
  react mN <emoji>     add a reaction (e.g. react m4 pushpin); unreact mN <emoji> removes it
  as <name>            act as another teammate (you, alice, bob, carol)
  wait 16m             let time pass (m, h or d): timers, pages and scheduled jobs run
  channels             the channels: who is in each, topic, bookmarks, pinned messages
  jobs                 list jobs; run <job> [--dry-run] runs one now
  help                 this text; quit (or Ctrl-D) leaves"""


class TrackingExecutor(ThreadPoolExecutor):
    """A pool that can tell when it has nothing left to do, so the shell prints in order."""

    def __init__(self, max_workers: int, name: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=name)
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 30) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


def workspace_file(db: Path) -> Path:
    """The local workspace's messages live beside the shell's database."""
    return db.with_name(db.stem + ".workspace.json")


class Console(Input):
    def __init__(self, settings: Settings, out: TextIO, *, real_targets: bool = False) -> None:
        self.out = out
        self.settings = settings
        self.real_targets = real_targets
        self.left_out = [] if real_targets else [n for n in REAL_TARGETS if "." not in n]
        self.user = "you"
        self._output = threading.RLock()  # one box at a time, in order
        self._turn = threading.Lock()  # one input (or one tick of the jobs) at a time
        self._held: list[tuple[str, dict[str, Any]]] | None = None
        self._updated: dict[str, Message] | None = None  # updates held during `wait`
        self.buttons: list[tuple[dict[str, Any], Message]] = []
        self.slack = LocalSlack(on_event=self._show).start()
        self.saved = workspace_file(settings.opsbot_db)
        self.slack.load(self.saved)
        self.numbered: list[Message] = list(self.slack.messages)
        for name, user_id in TEAM.items():
            self.slack.add_user(user_id, name)
        self.secret = secrets.token_hex(16)
        self.listeners = TrackingExecutor(8, "opsbot-listener")
        # how far `wait` has moved the bot's clock, kept across restarts
        self.ahead = load_ahead(settings.opsbot_db)
        self._stopped = threading.Event()
        local = settings.model_copy(update={"slack_api_url": self.slack.api_base})
        self.deps: Deps = assemble(local, "xoxb-local-console", clock=self.now)
        self.app, self.inbox = apps(self.deps, self.secret, listeners=self.listeners)
        self.channel = self.slack.channel_id(settings.incidents_channel)
        self.scheduler = Scheduler(self.deps)  # ticked here, in the foreground, in order
        self._ticker = threading.Thread(target=self._tick_forever, daemon=True)

    def now(self) -> datetime:
        return now_utc() + self.ahead

    def close(self) -> None:
        self._stopped.set()
        with self._turn:
            self.slack.save(self.saved)
            save_ahead(self.settings.opsbot_db, self.ahead)
        self.listeners.shutdown(wait=True)
        self.deps.pools.shutdown(wait=True)
        self.slack.stop()

    # Input ---------------------------------------------------------------------------------

    def run(self, lines: TextIO, interactive: bool) -> None:
        self._say(
            f"opsbot shell: a local workspace kept in {self.settings.opsbot_db} "
            f"(and {self.saved.name}). Timers and scheduled jobs run; `wait 16m` skips ahead. "
            "Type `help`."
        )
        self._say(self._targets_line())
        with self._turn:
            self._tick()  # as `opsbot serve` does at start: catch up, refresh
        self._ticker.start()
        self._lines, self._interactive = lines, interactive
        while True:
            if interactive:
                self.out.write(f"{self.user}> ")
                self.out.flush()
            line = lines.readline()
            if not line:
                break
            if not self.handle(line.strip()):
                break

    def _targets_line(self) -> str:
        """Says plainly whether anything typed here can reach a real system."""
        if self.real_targets:
            used = configured_targets(self.settings)
            named = "; ".join(f"{REAL_TARGETS[n]} ({n})" for n in used) or "none configured"
            return (
                "REAL TARGETS (--real-targets): backups, rollbacks, probes and the security "
                f"audit act on what your environment and config name: {named}."
            )
        checkout = self.settings.rollback_repo
        rollback = (
            f"/rollback works on a stand-in checkout ({checkout.name}: "
            f"{', '.join(STAND_IN_RELEASES)}) and only checks the tag out there"
            if checkout
            else "/rollback has no checkout (git is not installed)"
        )
        return (
            "Nothing here reaches your systems: "
            f"{rollback}; backups of opsbot's own data go to {self.settings.backup_dir.name}; "
            "MongoDB, the Prompt-Base API, the security audit's URLs, PagerDuty, Statuspage, "
            f"notices and heartbeats are {NOT_HERE}."
        )

    def handle(self, line: str) -> bool:
        if not line or line.startswith("#!"):
            return True
        word, _, rest = line.partition(" ")
        if word in ("quit", "exit"):
            return False
        action = self._COMMANDS.get(word)
        with self._turn:
            self._handle(line, word, rest, action)
            self._forms()
            self.slack.save(self.saved)
        return True

    # Forms (modals) the bot opened --------------------------------------------------------------

    def _ask(self, prompt: str) -> str | None:
        with self._output:
            self.out.write(prompt)
            self.out.flush()
        line = self._lines.readline()
        if not line:
            return None
        if not self._interactive:  # a script's answers, shown as if typed
            self.out.write(line if line.endswith("\n") else line + "\n")
        return line.rstrip("\n")

    def _forms(self) -> None:
        """Each form the bot opened, filled in here and submitted; what the bot refuses is
        asked again, three times at most."""
        for opened in self.slack.views():
            self.slack.close_view(opened.id)
            try:
                values = forms.fill(opened.view, self._ask, self._say)
                for _ in range(3):
                    body = localslack.view_submission(opened.view, values, user=opened.user)
                    answer = self._dispatch(body, "application/x-www-form-urlencoded")
                    said = json.loads(answer.body) if answer.body else {}
                    if said.get("response_action") != "errors":
                        break
                    values = forms.again(opened.view, values, said["errors"], self._ask, self._say)
                self._settle()
            except forms.Cancelled:
                self._say("(form closed; nothing was sent)")

    def _handle(
        self, line: str, word: str, rest: str, action: Callable[[Console, str], None] | None
    ) -> None:
        try:
            if line.startswith("/"):
                self._slash(word, rest)
            elif action is not None:
                action(self, rest.strip())
            elif word.isdigit():
                self._press(word)
            else:
                guess = did_you_mean("/" + word)
                meant = f" Did you mean `{f'{guess} {rest}'.strip()}`?" if guess else ""
                self._say(f"Not a command: {line!r}.{meant} Type `help`.")
            self._settle()
        except Exception as exc:  # no input ends the console: say what went wrong, go on
            self._say(f"Could not do `{line}` ({type(exc).__name__}). Type `help`.")

    def _tick_forever(self) -> None:
        while not self._stopped.wait(TICK_SECONDS):
            with self._turn:
                self._tick()

    def _tick(self) -> None:
        try:
            self.scheduler.tick(inline=True, every_interval=True)
            self._settle()
        except Exception as exc:
            self._say(f"(a scheduled job failed: {type(exc).__name__}; see the log)")

    def _wait(self, rest: str) -> None:
        """Move the bot's clock ahead a minute at a time, running the jobs at each step, so
        a page, its escalation and a digest each come at their own time."""
        found = WAIT.match(rest.strip().lower())
        if not found:
            self._say("Usage: wait N(m|h|d), e.g. wait 16m, wait 2h, wait 1d (at most 7d)")
            return
        unit = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}[found.group(2)]
        span = timedelta(**{unit: int(found.group(1))})
        if span > timedelta(days=7):
            self._say("At most 7d at a time.")
            return
        step = max(timedelta(minutes=1), span / 500)
        end = self.ahead + span
        self._updated = {}  # a card refreshed every minute is shown once, as it ends up
        try:
            while self.ahead < end:
                self.ahead = min(end, self.ahead + step)
                self._tick()
        finally:
            save_ahead(self.settings.opsbot_db, self.ahead)
            updated, self._updated = self._updated, None
            for message in updated.values():
                self._render("update", {"message": message})
        self._say(f"({rest.strip()} later: {self.now():%a %d %b %H:%M} UTC)")

    def _settle(self) -> None:
        # Work triggered by work (a listener submitting to a pool, an event owing a post)
        # settles in a few rounds; the console delivers in the foreground, in order.
        for _ in range(3):
            self.listeners.wait_idle()
            for pool in self.deps.pools.all():
                pool.wait_idle()
            self.inbox.drain()
            try:
                self.deps.outbox.drain()
            except TimeoutError:
                self._say("(some posts are still waiting to be delivered)")

    _COMMANDS: dict[str, Callable[[Console, str], None]] = {
        "help": lambda self, rest: self._say(HELP),
        "press": lambda self, rest: self._press(rest),
        "reply": Input._reply,
        "shortcut": Input._shortcut,
        "react": Input._react,
        "unreact": lambda self, rest: self._react(rest, added=False),
        "as": Input._as,
        "channels": Input._channels,
        "jobs": Input._jobs,
        "run": Input._run,
        "wait": _wait,
    }
