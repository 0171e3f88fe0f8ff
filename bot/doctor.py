"""`opsbot doctor`: is this setup going to work? One line per check, with a plain fix.

Each check is a function returning one Result. `opsbot serve` runs the FAST ones (no
network) at start, logs each problem and keeps the outcome for the App Home; `opsbot doctor`
runs them all, Slack and the configured targets included.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.init import SCOPES
from bot.redact import clean_env
from bot.store import migrations, serve_lock

OK, FAIL, OFF = "ok", "fail", "off"
STATE_KEY = "doctor.at_start"  # the checks `opsbot serve` ran, for the App Home
MARK = {OK: "✓", FAIL: "✗", OFF: "–"}
SKEW_SECONDS = 60  # request signatures carry a 5-minute window; a minute off is worth a fix
TIMEOUT = 5.0


@dataclass(frozen=True)
class Result:
    check: str
    state: str  # ok, fail, or off (a feature not configured: nothing to check)
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{MARK[self.state]} {self.check}: {self.detail}"
        return text + (f"\n    fix: {self.fix}" if self.fix and self.state == FAIL else "")


@dataclass
class Context:
    """What the checks share: settings, the mode, and Slack's answer to auth.test."""

    settings: Settings
    socket: bool
    serving: bool = False  # run by `opsbot serve`, which holds the database itself
    auth: httpx.Response | None = None


Check = Callable[[Context], Result | list[Result]]


# Local: no network ---------------------------------------------------------------------------


def config(ctx: Context) -> Result:
    shown = str(ctx.settings.opsbot_config) if ctx.settings.opsbot_config else "no file"
    zone = datetime.now(ctx.settings.tz).strftime("%Z, UTC%z")
    return Result("config", OK, f"{shown}; time zone {ctx.settings.timezone} ({zone})")


def database(ctx: Context) -> Result:
    path = Path(ctx.settings.opsbot_db)
    if not path.exists():
        folder = path.parent
        if not _writable(folder):
            return Result("database", FAIL, f"{folder} is not writable", "OPSBOT_DB elsewhere")
        return Result("database", OK, f"{path} will be created at the first start")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            names = {
                row[0]
                for row in db.execute(
                    "SELECT name FROM _sqlite_migrations WHERE migration_set = 'opsbot'"
                )
            }
    except sqlite3.Error as exc:
        return Result("database", FAIL, f"{path}: {exc}", "check the file, or restore a backup")
    known = [m.name for m in migrations._migrations]
    unknown, pending = names - set(known), [n for n in known if n not in names]
    if unknown:
        return Result(
            "database", FAIL, f"{path} was written by a newer opsbot", "run that newer opsbot"
        )
    if not _writable(path) or not _writable(path.parent):
        return Result("database", FAIL, f"{path} is not writable", "fix its owner or mode")
    held = None if ctx.serving else _held_by(path)
    if held:
        return Result(
            "database",
            FAIL,
            f"{path} is held by a running opsbot serve ({held})",
            "stop it, or give this one its own OPSBOT_DB",
        )
    state = f"{len(pending)} migrations to apply at start" if pending else "migrated"
    return Result("database", OK, f"{path}: {mode} mode, {state}, writable, not in use")


def _held_by(path: Path) -> str | None:
    lock = serve_lock(path)
    if not lock.exists():
        return None
    with lock.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def backup_dir(ctx: Context) -> Result:
    folder = Path(ctx.settings.backup_dir)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not _writable(existing):
        return Result("backup dir", FAIL, f"{folder} is not writable", "set BACKUP_DIR elsewhere")
    free = shutil.disk_usage(existing).free
    return Result("backup dir", OK, f"{folder}: writable, {free / 2**30:.1f} GiB free")


def features(ctx: Context) -> list[Result]:
    """Each feature that needs a setting: on, or off and what turns it on."""
    s = ctx.settings
    found = []
    for name, missing, how in (
        ("health checks", not s.promptbase_api_url, "set PROMPTBASE_API_URL"),
        ("backups", s.mongodb_uri is None, "set MONGODB_URI"),
        ("rollback", s.rollback_repo is None, "set ROLLBACK_REPO and rollback.allowed"),
        ("restores", not s.backup.restore_allowed, "list user ids in backup.restore_allowed"),
        ("on-call paging", not s.oncall.rotation, "set oncall.rotation or use /oncall set"),
        ("PagerDuty", s.oncall.pagerduty_routing_key is None, "oncall.pagerduty_routing_key"),
        ("Statuspage", s.status_page.statuspage_api_key is None, "status_page.statuspage_*"),
        ("user notices", not s.status_page.notice_webhook, "status_page.notice_webhook"),
    ):
        found.append(Result(name, OFF if missing else OK, f"off ({how})" if missing else "on"))
    return found


def tools(ctx: Context) -> list[Result]:
    """git and npm where the rollback steps need them, mongodump where backups do."""
    s, found = ctx.settings, []
    programs = {step.argv[0] for step in s.rollback.steps} if s.rollback_repo else set()
    if s.rollback_repo:
        programs.add("git")
    for program in sorted(programs - {"<built-in>"}):
        where = shutil.which(program)
        found.append(
            Result(
                program,
                OK if where else FAIL,
                f"{where}" if where else "not on PATH (a rollback step runs it)",
                f"install {program}, or change rollback.steps",
            )
        )
    if s.mongodb_uri is not None and s.backup.engine != "builtin":
        where = shutil.which("mongodump")
        if where:
            version = _run([where, "--version"]).splitlines()[0]
            found.append(Result("mongodump", OK, f"{where} ({version})"))
        elif s.backup.engine == "mongodump":
            found.append(
                Result(
                    "mongodump",
                    FAIL,
                    "not on PATH, and backup.engine is mongodump",
                    'install the MongoDB database tools, or set backup.engine = "builtin"',
                )
            )
        else:
            found.append(Result("mongodump", OK, "not installed: the built-in dumper is used"))
    return found


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=TIMEOUT, env=clean_env()
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return type(exc).__name__
    return (done.stdout or done.stderr).strip() or f"exit {done.returncode}"


def repo(ctx: Context) -> Result | list[Result]:
    if ctx.settings.rollback_repo is None:
        return []
    path = Path(ctx.settings.rollback_repo)
    if not (path / ".git").exists() and not (path / "HEAD").exists():
        return Result("release checkout", FAIL, f"{path} is not a git checkout", "ROLLBACK_REPO")
    if not shutil.which("git"):
        return []  # said by the git check
    tags = [t for t in _run(["git", "-C", str(path), "tag", "--list", "v*"]).split() if t]
    if not tags:
        return Result(
            "release checkout", FAIL, f"{path} has no v* release tags", "tag releases vX.Y.Z"
        )
    return Result("release checkout", OK, f"{path}: {len(tags)} release tags")


# Over the network --------------------------------------------------------------------------


def slack_token(ctx: Context) -> list[Result]:
    s = ctx.settings
    if s.slack_bot_token is None or not s.slack_bot_token.get_secret_value():
        return [
            Result(
                "bot token",
                FAIL,
                "SLACK_BOT_TOKEN is not set",
                "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions",
            )
        ]
    try:
        answer = _slack(s, "auth.test", s.slack_bot_token.get_secret_value())
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        return [
            Result(
                "bot token",
                FAIL,
                f"cannot reach Slack at {s.slack_api_url} ({type(exc).__name__})",
                "check the network, a proxy, or SLACK_API_URL",
            )
        ]
    if not body.get("ok"):
        return [
            Result(
                "bot token",
                FAIL,
                f"Slack refused SLACK_BOT_TOKEN ({body.get('error', answer.status_code)})",
                "copy the Bot User OAuth Token (xoxb-…) again; reinstall the app if it was revoked",
            )
        ]
    ctx.auth = answer
    results = [
        Result("bot token", OK, f"@{body.get('user')} in {body.get('team')} ({body.get('url')})")
    ]
    granted = {x.strip() for x in answer.headers.get("x-oauth-scopes", "").split(",") if x}
    missing, extra = sorted(set(SCOPES) - granted), sorted(granted - set(SCOPES))
    if missing:
        results.append(
            Result(
                "scopes",
                FAIL,
                f"missing {', '.join(missing)}" + (f"; extra {', '.join(extra)}" if extra else ""),
                "update the app from opsbot's manifest (App Manifest), then reinstall it",
            )
        )
    else:
        more = f"; extra, not needed: {', '.join(extra)}" if extra else ""
        results.append(Result("scopes", OK, f"all {len(SCOPES)} the manifest asks for{more}"))
    results.append(_clock(answer))
    return results


def _slack(
    s: Settings, method: str, token: str, form: dict[str, str] | None = None
) -> httpx.Response:
    """One Web API call with plain httpx: the doctor reads the answer's headers too."""
    return httpx.post(
        s.slack_api_url + method,
        headers={"Authorization": f"Bearer {token}"},
        data=form,
        timeout=TIMEOUT,
    )


def _clock(answer: httpx.Response) -> Result:
    try:
        theirs = parsedate_to_datetime(answer.headers["date"])
    except (KeyError, TypeError, ValueError):
        return Result("clock", OK, "Slack sent no Date header to compare with")
    skew = (datetime.now(UTC) - theirs).total_seconds()
    if abs(skew) > SKEW_SECONDS:
        return Result(
            "clock",
            FAIL,
            f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Slack's",
            "run NTP (timedatectl set-ntp true): Slack's signatures are only good for 5 min",
        )
    return Result("clock", OK, f"within {abs(skew):.0f} s of Slack's")


def mode(ctx: Context) -> Result:
    s = ctx.settings
    if not ctx.socket:
        if s.slack_signing_secret is None or not s.slack_signing_secret.get_secret_value():
            return Result(
                "signing secret",
                FAIL,
                "SLACK_SIGNING_SECRET is not set",
                "copy it from Basic Information → App Credentials",
            )
        return Result("signing secret", OK, "set (Slack's requests are checked with it)")
    if s.slack_app_token is None or not s.slack_app_token.get_secret_value():
        return Result(
            "socket mode",
            FAIL,
            "SLACK_APP_TOKEN is not set",
            "create an App-Level Token with connections:write (Basic Information)",
        )
    try:
        body = _slack(s, "apps.connections.open", s.slack_app_token.get_secret_value()).json()
    except (httpx.HTTPError, ValueError) as exc:
        return Result("socket mode", FAIL, f"no answer ({type(exc).__name__})", "check network")
    if not body.get("ok"):
        return Result(
            "socket mode",
            FAIL,
            f"Slack refused SLACK_APP_TOKEN ({body.get('error')})",
            "an App-Level Token with connections:write, and Socket Mode on in the app settings",
        )
    return Result("socket mode", OK, "apps.connections.open works with SLACK_APP_TOKEN")


def channels(ctx: Context) -> list[Result]:
    """The bot must be in the incidents and digest channels: Slack sends reaction events
    only from conversations an app is a member of."""
    if ctx.auth is None:
        return []  # the token check said why
    s = ctx.settings
    wanted = list(dict.fromkeys([s.incidents_channel, s.digest_target]))
    token = s.slack_bot_token.get_secret_value() if s.slack_bot_token else ""
    listed: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(10):
        body = _slack(
            s,
            "conversations.list",
            token,
            {
                "types": "public_channel,private_channel",
                "exclude_archived": "true",
                "limit": "1000",
                "cursor": cursor,
            },
        ).json()
        if not body.get("ok"):
            return [Result("channels", FAIL, f"cannot list ({body.get('error')})", "scopes")]
        listed += body.get("channels") or []
        cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            break
    results = []
    for channel in wanted:
        found = next(
            (c for c in listed if c.get("id") == channel or "#" + str(c.get("name")) == channel),
            None,
        )
        if found is None:
            results.append(
                Result(
                    f"channel {channel}",
                    FAIL,
                    "not found (or private and the bot is not in it)",
                    f"create {channel}, or set INCIDENTS_CHANNEL / digest_channel",
                )
            )
        elif not found.get("is_member"):
            results.append(
                Result(
                    f"channel {channel}",
                    FAIL,
                    "the bot is not a member: reactions there (pins, reviews) never reach it",
                    f"in Slack, /invite @opsbot in {channel}",
                )
            )
        else:
            results.append(Result(f"channel {channel}", OK, "the bot is a member and can post"))
    return results


def targets(ctx: Context) -> list[Result]:
    s, found = ctx.settings, []
    if s.promptbase_api_url:
        try:
            answer = httpx.get(s.promptbase_api_url, timeout=TIMEOUT)
            state = OK if answer.status_code < 500 else FAIL
            found.append(
                Result(
                    "Prompt-Base API",
                    state,
                    f"{s.promptbase_api_url} answered {answer.status_code}",
                    "check the service",
                )
            )
        except httpx.HTTPError as exc:
            found.append(
                Result(
                    "Prompt-Base API",
                    FAIL,
                    f"{s.promptbase_api_url}: no answer ({type(exc).__name__})",
                    "check PROMPTBASE_API_URL and that the API is up",
                )
            )
    if s.mongodb_uri is not None:
        found.append(_mongodb(s))
    return found


def _mongodb(s: Settings) -> Result:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    assert s.mongodb_uri is not None
    wait_ms = int(s.health.timeout_seconds * 1000)  # as long as /health mongodb waits
    client: MongoClient[Any] = MongoClient(
        s.mongodb_uri.get_secret_value(), serverSelectionTimeoutMS=wait_ms, connectTimeoutMS=wait_ms
    )
    try:
        client.admin.command("ping")
        version = client.server_info().get("version", "?")
    except PyMongoError as exc:  # the URI (and its password) is never shown
        return Result(
            "MongoDB", FAIL, f"no answer ({type(exc).__name__})", "check MONGODB_URI and the server"
        )
    finally:
        client.close()
    return Result("MongoDB", OK, f"ping ok, version {version}")


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
