"""`opsbot shell`: the bot with a local Slack workspace, in a terminal.

The same App, handlers, store and jobs as `opsbot serve`; only the edge differs. Commands go in
as signed requests to the App, and the bot's Web API calls go to a LocalSlack on loopback,
which this module renders as text: cards with numbered buttons, threads, reactions.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import secrets
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from slack_bolt import App

from bot import edge
from bot.app import create_app
from bot.cli import assemble
from bot.config import RollbackStep, Settings
from bot.deps import Deps
from bot.inbox import Inbox
from bot.redact import clean_env
from bot.store import now_utc
from bot.tools import localslack
from bot.tools.localslack import LocalSlack, Message
from commands import COMMANDS
from jobs import JOBS, run_by_hand
from jobs.scheduler import Scheduler

TICK_SECONDS = 30  # how often the shell runs its jobs, as the server's timers do
WAIT = re.compile(r"^(\d+)\s*(m|min|h|d)$")

HELP = """Type a slash command as in Slack, e.g. `/incident open P1 Login broken`, or:
  press N              press button [N] of the last ones shown
  press mK N           press button N of message mK
  reply mN <text>      reply in the thread of message mN (the label on each message)
  react mN <emoji>     add a reaction (e.g. react m4 pushpin); unreact mN <emoji> removes it
  as <name>            act as another teammate (you, alice, bob, carol)
  wait 16m             let time pass (m, h or d): timers, pages and scheduled jobs run
  jobs                 list jobs; run <job> [--dry-run] runs one now
  help                 this text; quit (or Ctrl-D) leaves"""

TEAM = {"you": "U0YOU0001", "alice": "U0ALICE01", "bob": "U0BOB0001", "carol": "U0CAROL01"}
EMOJI = {
    ":red_circle:": "🔴",
    ":large_orange_circle:": "🟠",
    ":large_yellow_circle:": "🟡",
    ":white_circle:": "⚪",
    ":white_check_mark:": "✅",
    ":x:": "❌",
    ":warning:": "⚠️",
    ":rotating_light:": "🚨",
    ":boom:": "💥",
    ":mega:": "📣",
    ":pushpin:": "📌",
    ":memo:": "📝",
    ":alarm_clock:": "⏰",
    ":hourglass:": "⏳",
    ":zzz:": "💤",
    ":page_facing_up:": "📄",
    ":pager:": "📟",
    ":arrows_counterclockwise:": "🔄",
    ":handshake:": "🤝",
    ":large_green_circle:": "🟢",
}


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


def did_you_mean(command: str) -> str | None:
    """The slash command nearest to a mistyped one (`/incdent`), if one is near."""
    close = difflib.get_close_matches(command.lower(), list(COMMANDS), n=1, cutoff=0.75)
    return close[0] if close else None


def workspace_file(db: Path) -> Path:
    """The local workspace's messages live beside the shell's database."""
    return db.with_name(db.stem + ".workspace.json")


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


# What reaches someone's real systems, by the setting that names it. The console leaves
# each one out unless asked (`opsbot shell --real-targets`).
REAL_TARGETS = {
    "MONGODB_URI": "MongoDB (/backup, /health mongodb, the database review)",
    "PROMPTBASE_API_URL": "the Prompt-Base API (/health api and traffic, digests)",
    "ROLLBACK_REPO": "the release checkout and its rollback steps (/rollback)",
    "security.public_urls": "the security audit's header checks",
    "security.rate_limit_url": "the security audit's burst of requests at a login endpoint",
    "oncall.pagerduty_routing_key": "PagerDuty pages",
    "status_page.statuspage_api_key": "Atlassian Statuspage",
    "status_page.notice_webhook": "user notices",
    "self_heartbeat_url": "opsbot's own heartbeat",
    "backup.offsite_dir": "off-site copies of backups",
    "backup.offsite_command": "off-site copies of backups",
}
NOT_HERE = "not configured in the console; `opsbot shell --real-targets` uses yours"


def configured_targets(settings: Settings) -> list[str]:
    """The settings above that this configuration sets (names only, never values)."""
    values = {
        "MONGODB_URI": settings.mongodb_uri,
        "PROMPTBASE_API_URL": settings.promptbase_api_url,
        "ROLLBACK_REPO": settings.rollback_repo,
        "security.public_urls": settings.security.public_urls,
        "security.rate_limit_url": settings.security.rate_limit_url,
        "oncall.pagerduty_routing_key": settings.oncall.pagerduty_routing_key,
        "status_page.statuspage_api_key": settings.status_page.statuspage_api_key,
        "status_page.notice_webhook": settings.status_page.notice_webhook,
        "self_heartbeat_url": settings.self_heartbeat_url,
        "backup.offsite_dir": settings.backup.offsite_dir,
        "backup.offsite_command": settings.backup.offsite_command,
    }
    return [name for name, value in values.items() if value]


def releases_file(db: Path) -> Path:
    """The console's stand-in release checkout, beside its database."""
    return db.with_name(db.stem + ".releases")


STAND_IN_RELEASES = ("v1.0.0", "v1.1.0", "v1.2.0")


def stand_in_checkout(folder: Path) -> Path | None:
    """A small git repository with three release tags, HEAD on the newest: what `/rollback`
    reads and checks out in the console. None when git is not installed or fails."""
    if (folder / ".git").is_dir():
        return folder
    if shutil.which("git") is None:
        return None
    env = {
        **clean_env(),
        "GIT_AUTHOR_NAME": "opsbot shell",
        "GIT_AUTHOR_EMAIL": "shell@opsbot.invalid",
        "GIT_COMMITTER_NAME": "opsbot shell",
        "GIT_COMMITTER_EMAIL": "shell@opsbot.invalid",
    }

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(folder), *args],
            check=True,
            capture_output=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    try:
        folder.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet")
        for tag in STAND_IN_RELEASES:
            (folder / "VERSION").write_text(tag + "\n")
            git("add", "VERSION")
            git("commit", "--quiet", "-m", f"Release {tag}")
            git("tag", tag)
    except (OSError, subprocess.SubprocessError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return folder


def console_settings(settings: Settings, db: Path, real_targets: bool) -> Settings:
    """The shell's settings: its own database always; the real targets only when asked.
    Otherwise backups go to a folder beside the database, `/rollback` works on a stand-in
    checkout (its only step checks the tag out there; the console's teammates may roll
    back), and everything that would reach Prompt-Base or a third party is left out."""
    own = settings.model_copy(update={"opsbot_db": db})
    if real_targets:
        return own
    checkout = stand_in_checkout(releases_file(db))
    rollback = settings.rollback.model_copy(
        update={
            "allowed": list(TEAM.values()),
            "current": "head",
            "restore_database": False,
            "steps": [
                RollbackStep(
                    name="Check out the release", argv=["git", "checkout", "--detach", "{tag}"]
                )
            ],
        }
    )
    return own.model_copy(
        update={
            "mongodb_uri": None,
            "promptbase_api_url": None,
            "rollback_repo": checkout,
            "backup_dir": db.with_name(db.stem + ".backups"),
            "self_heartbeat_url": None,
            "rollback": rollback,
            "backup": settings.backup.model_copy(
                update={"offsite_dir": None, "offsite_command": []}
            ),
            "security": settings.security.model_copy(
                update={"public_urls": [], "rate_limit_url": None, "rate_limit_hosts": []}
            ),
            "oncall": settings.oncall.model_copy(update={"pagerduty_routing_key": None}),
            "status_page": settings.status_page.model_copy(
                update={
                    "statuspage_api_key": None,
                    "statuspage_page_id": None,
                    "notice_webhook": None,
                }
            ),
        }
    )


class Console:
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
        self.app: App = create_app(
            self.deps, signing_secret=self.secret, listener_executor=self.listeners
        )
        stored = create_app(
            self.deps,
            signing_secret=self.secret,
            listener_executor=self.listeners,
            for_inbox=True,
        )
        self.inbox = Inbox(stored, self.deps)
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
            self.slack.save(self.saved)
        return True

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

    def _dispatch(self, body: str, content_type: str, quiet: tuple[int, ...] = ()) -> Any:
        """Through the same edge as `opsbot serve` (bot/edge.py): signed, checked, parsed."""
        raw = body.encode()
        headers: dict[str, str | Sequence[str]] = {
            name.lower(): value
            for name, value in localslack.signed_headers(body, self.secret).items()
        }
        headers["content-type"] = content_type
        response = edge.handle(self.app, self.secret, headers, io.BytesIO(raw).read, str(len(raw)))
        if response.status != 200 and response.status not in quiet:
            self._say(f"(the bot answered HTTP {response.status})")
        return response

    def _slash(self, command: str, text: str) -> None:
        text = self._as_slack_sends(text)
        body = localslack.slash_command(
            command,
            text,
            user=TEAM[self.user],
            user_name=self.user,
            channel=self.channel,
            response_url=self.slack.response_url(),
        )
        with self._answer_first():
            response = self._dispatch(body, "application/x-www-form-urlencoded", quiet=(404,))
            if response.status == 404:
                guess = did_you_mean(command)
                meant = f" Did you mean `{guess}`?" if guess else ""
                self._say(f"{command} is not a command this bot knows.{meant}")
            elif response.body:
                self._render("response", json.loads(response.body))

    def _as_slack_sends(self, text: str) -> str:
        """Typed text as Slack hands it on: `& < >` escaped, then @name made <@ID|name>."""

        def swap(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"<@{TEAM[name]}|{name}>" if name in TEAM else match.group(0)

        return re.sub(r"@(\w+)", swap, localslack.escape(text))

    def _press(self, rest: str) -> None:
        """`press N` (a button of the last ones shown) or `press mK N` (button N of mK)."""
        parts = rest.split()
        if len(parts) == 2 and parts[0].lower().startswith("m"):
            found = self._message(parts[0])
            if found is None:
                return
            buttons = [
                (element, found)
                for block in found.blocks
                if block.get("type") == "actions"
                for element in block.get("elements", [])
            ]
            number = parts[1]
        else:
            buttons, number = self.buttons, parts[0] if parts else ""
        digits = number.strip("[]")
        if len(parts) not in (1, 2) or not digits.isdigit():
            self._say("Usage: press N, or press mK N (button N of message mK)")
            return
        index = int(digits) - 1
        if not 0 <= index < len(buttons):
            self._say(f"No button [{digits}].")
            return
        action, message = buttons[index]
        body = localslack.block_action(
            action,
            message,
            user=TEAM[self.user],
            user_name=self.user,
            response_url=self.slack.response_url(),
        )
        self._dispatch(body, "application/x-www-form-urlencoded")

    def _message(self, ref: str) -> Message | None:
        digits = ref.lstrip("#mM")
        index = int(digits) - 1 if digits.isdigit() else -1
        if not 0 <= index < len(self.numbered):
            self._say(f"No message {ref}.")
            return None
        return self.numbered[index]

    def _reply(self, rest: str) -> None:
        ref, _, text = rest.partition(" ")
        message = self._message(ref)
        if message and text:
            root = message.thread_ts or message.ts
            typed = self._as_slack_sends(text)
            self.slack.post(message.channel, TEAM[self.user], typed, thread_ts=root)

    def _react(self, rest: str, added: bool = True) -> None:
        try:
            parts = shlex.split(rest)
        except ValueError:  # an unclosed quote
            parts = []
        message = self._message(parts[0]) if parts else None
        if message is None or len(parts) != 2:
            self._say("Usage: react mN <emoji>")
            return
        name = parts[1].strip(":")
        if not self.slack.react(message, TEAM[self.user], name, add=added):
            return
        if not self.slack.is_member(message.channel):
            where = self.slack.channel_name(message.channel)
            self._say(f"(opsbot is not in {where}: Slack sends it no reactions from there)")
        else:
            body = localslack.reaction_event(message, user=TEAM[self.user], name=name, added=added)
            self._dispatch(body, "application/json")

    def _as(self, rest: str) -> None:
        if rest not in TEAM:
            self._say(f"Teammates here: {', '.join(TEAM)}.")
            return
        self.user = rest

    def _jobs(self, rest: str) -> None:
        for name, job in JOBS.items():
            self._say(f"{name}: {job.description}")

    def _run(self, rest: str) -> None:
        name, _, flag = rest.partition(" ")
        if name not in JOBS:
            self._say(f"Unknown job {name!r}. Jobs: {', '.join(JOBS)}.")
            return
        summary = run_by_hand(name, self.deps, dry_run=flag == "--dry-run")
        self._say(f"{name}: {summary}")

    _COMMANDS: dict[str, Callable[[Console, str], None]] = {
        "help": lambda self, rest: self._say(HELP),
        "press": lambda self, rest: self._press(rest),
        "reply": _reply,
        "react": _react,
        "unreact": lambda self, rest: self._react(rest, added=False),
        "as": _as,
        "jobs": _jobs,
        "run": _run,
        "wait": _wait,
    }

    # Output --------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @contextmanager
    def _answer_first(self) -> Iterator[None]:
        """Hold what the bot posts while a command is answered, as Slack shows the answer
        to the person at once and the channel posts as they arrive."""
        with self._output:
            self._held = []
        try:
            yield
        finally:
            with self._output:
                held, self._held = self._held or [], None
                for kind, data in held:
                    self._render(kind, data)

    def _show(self, kind: str, data: dict[str, Any]) -> None:
        """Called by the local workspace, on its threads, for everything the bot does."""
        with self._output:
            if self._held is not None:
                self._held.append((kind, data))
            else:
                self._render(kind, data)

    def _render(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "update" and self._updated is not None:
            self._updated[data["message"].ts] = data["message"]
            return
        if kind in ("post", "update"):
            message: Message = data["message"]
            if kind == "post":
                self.numbered.append(message)
            where = self._where(message.channel)
            if message.thread_ts:
                parent = self.slack.find(message.channel, message.thread_ts)
                where += f" · thread of {self._number(parent)}"
            who = self.slack.users.get(message.user, message.user)
            verb = "updated" if kind == "update" else who
            self._box(
                f"{self._number(message)} {where} · {verb}", message.text, message.blocks, message
            )
        elif kind in ("response", "ephemeral"):
            if data.get("text") or data.get("blocks"):
                self._ephemeral(kind, data)
        elif kind == "reaction" and data["user"] == localslack.BOT_USER:
            sign = "+" if data["added"] else "-"
            self._say(f"   opsbot {sign}:{data['name']}: on {self._number(data['message'])}")

    def _where(self, channel: str) -> str:
        if channel in self.slack.users:  # a DM is addressed to the user's id
            return "DM to @" + self.slack.users[channel]
        return self.slack.channel_name(channel)

    def _ephemeral(self, kind: str, data: dict[str, Any]) -> None:
        """An answer only one person sees; its buttons can be pressed like any other."""
        if data.get("response_type") == "in_channel":
            shown = "everyone"
        elif kind == "ephemeral" and data.get("user") != TEAM[self.user]:
            shown = "only @" + self.slack.users.get(data.get("user", ""), "someone")
        else:
            shown = "only you"
        text, blocks = data.get("text", ""), data.get("blocks") or []
        stand_in = Message(self.channel, "0.000000", localslack.BOT_USER, text, blocks)
        self._box(f"opsbot ({shown})", text, blocks, stand_in)

    def _number(self, message: Message | None) -> str:
        return f"m{self.numbered.index(message) + 1}" if message in self.numbered else "m?"

    def _box(
        self, title: str, text: str, blocks: list[dict[str, Any]], message: Message | None
    ) -> None:
        if message is not None and any(b.get("type") == "actions" for b in blocks):
            self.buttons = []  # the buttons last shown are the ones `press N` means
        lines = render_blocks(blocks, self._press_slot, message) if blocks else [text]
        for attached in message.files if message else []:
            content = attached.get("content") or ""
            lines.append(f"📎 {attached['name']} ({len(content.splitlines())} lines)")
            lines.extend("  " + line for line in content.splitlines())
        body = "\n".join(
            "│ " + self._readable(line) for chunk in lines for line in chunk.splitlines() or [""]
        )
        self._say(f"┌─ {title}\n{body}\n└─")
        missing = [name for name in self.left_out if name in body]
        if missing:
            self._say(f"   ({' and '.join(missing)}: {NOT_HERE})")

    def _press_slot(self, element: dict[str, Any], message: Message | None) -> int:
        if message is None:
            return 0
        self.buttons.append((element, message))
        return len(self.buttons)

    def _readable(self, text: str) -> str:
        for code, glyph in EMOJI.items():
            text = text.replace(code, glyph)
        text = re.sub(
            r"<@(\w+)(?:\|[^>]*)?>",
            lambda m: "@" + self.slack.users.get(m.group(1), m.group(1)),
            text,
        )
        text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_blocks(
    blocks: list[dict[str, Any]],
    press_slot: Callable[[dict[str, Any], Message | None], int],
    message: Message | None,
) -> list[str]:
    """Block Kit as plain lines: headers in caps-free bold, fields as `name: value`, buttons
    as [N] choices."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append("▌" + block["text"]["text"])
        elif kind == "section":
            if block.get("text"):
                lines.append(block["text"]["text"])
            for item in block.get("fields") or []:
                name, _, value = item["text"].partition("\n")
                lines.append(f"{name.strip('*')}: {value}")
        elif kind in ("markdown",):
            lines.append(block["text"])
        elif kind == "context":
            lines.append("  " + " ".join(e.get("text", "") for e in block["elements"]))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "actions":
            labels = []
            for element in block["elements"]:
                slot = press_slot(element, message)
                label = element["text"]["text"]
                labels.append(f"[{slot}] {label}" if slot else label)
            lines.append("  ".join(labels))
    return lines
