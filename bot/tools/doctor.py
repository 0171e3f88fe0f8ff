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
from bot.redact import clean_env
from bot.store import migrations, serve_lock
from bot.tools.init import SCOPES

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
    """The release checkout: a git checkout with release tags, that git accepts the way
    opsbot runs it (trusted with safe.directory, also in the steps' git), and that the
    steps can write to when one of them is git (`git checkout` changes the working tree)."""
    from commands.rollback import releases

    if ctx.settings.rollback_repo is None:
        return []
    path = Path(ctx.settings.rollback_repo)
    if not (path / ".git").exists() and not (path / "HEAD").exists():
        return Result("release checkout", FAIL, f"{path} is not a git checkout", "ROLLBACK_REPO")
    if not shutil.which("git"):
        return []  # said by the git check
    owner, me = path.stat().st_uid, os.geteuid()
    trust = releases.trusted(path)
    listed = _git(releases.git_argv(path, "tag", "--list", "v*"), clean_env())
    # a rollback step's git is trusted through its environment (GIT_CONFIG_*), not -c
    in_step = _git(
        ["git", "-C", str(path), "rev-parse", "--git-dir"],
        releases.git_env(path, clean_env()),
    )
    for done in (listed, in_step):
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
            return Result(
                "release checkout",
                FAIL,
                f"git refuses {path}: {said[:160]}",
                f"git config --system --add safe.directory {trust}"
                if "dubious ownership" in done.stderr
                else "check ROLLBACK_REPO",
            )
    tags = [t for t in listed.stdout.split() if t]
    if not tags:
        return Result(
            "release checkout", FAIL, f"{path} has no v* release tags", "tag releases vX.Y.Z"
        )
    owned = "" if owner == me else f"; owned by uid {owner}, trusted with safe.directory"
    results = [Result("release checkout", OK, f"{path}: {len(tags)} release tags{owned}")]
    uses_git = any(Path(step.argv[0]).name == "git" for step in ctx.settings.rollback.steps)
    if uses_git and not (_writable(path) and _writable(path / ".git")):
        results.append(
            Result(
                "release checkout access",
                FAIL,
                f"{path} is owned by uid {owner} and not writable by opsbot (uid {me}): "
                "the rollback's `git checkout` step would fail",
                f"give uid {me} write access (chown -R {me} {path}), or check the release "
                "out on the application host with an ssh step",
            )
        )
    return results


def _git(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return subprocess.CompletedProcess(argv, 1, "", type(exc).__name__)


# ssh options that take a value (OpenSSH's ssh(1)): the destination is the first other word.
_SSH_VALUED = set("BbcDEeFIiJLlmOoPpQRSWw")


def _ssh_destination(args: list[str]) -> int | None:
    """The index in `args` (ssh's arguments) of the destination, [user@]host or ssh://."""
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return index + 1 if index + 1 < len(args) else None
        if word.startswith("-") and len(word) > 1:
            flags = word[1:]
            for at, flag in enumerate(flags):
                if flag in _SSH_VALUED:
                    index += 1 if at == len(flags) - 1 else 0  # the value: next word, or glued
                    break
            index += 1
            continue
        return index
    return None


def _ssh_remote(url: str) -> list[str] | None:
    """ssh's arguments for a git remote reached over ssh (ssh://, or scp-like user@host:)."""
    if url.startswith(("ssh://", "git+ssh://", "ssh+git://")):
        rest = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = rest.rpartition(":") if "]" not in rest else (rest, "", "")
        if port.isdigit():
            return ["-p", port, host]
        return [rest]
    if "://" not in url and ":" in url.split("/", 1)[0]:
        return [url.split(":", 1)[0]]
    return None


def host_keys(ctx: Context) -> list[Result]:
    """ssh asks nobody in a container or a service: a host whose key is not known makes a
    rollback step over ssh (or a fetch from an ssh remote) fail. The host and port are
    ssh's own resolution (`ssh -G`, with the step's options); the key is looked up in the
    known_hosts files ssh would read."""
    from commands.rollback import releases

    s = ctx.settings
    if s.rollback_repo is None:
        return []
    wanted: list[tuple[str, list[str]]] = []  # (what needs it, ssh's arguments)
    for step in s.rollback.steps:
        if Path(step.argv[0]).name == "ssh":
            at = _ssh_destination(step.argv[1:])
            if at is not None:
                wanted.append((f"step {step.name!r}", step.argv[1 : at + 2]))
    if shutil.which("git") and Path(s.rollback_repo).exists():
        remotes = _git(
            releases.git_argv(
                Path(s.rollback_repo), "config", "--get-regexp", r"^remote\..*\.url$"
            ),
            clean_env(),
        )
        for line in remotes.stdout.splitlines():
            key, _, url = line.partition(" ")
            args = _ssh_remote(url.strip())
            if args:
                wanted.append((f"remote {key.split('.')[1]}", args))
    if not wanted:
        return []
    if not (shutil.which("ssh") and shutil.which("ssh-keygen")):
        return [
            Result(
                "ssh host keys",
                FAIL,
                "ssh is needed (" + ", ".join(w for w, _ in wanted) + ") and is not installed",
                "install openssh-client",
            )
        ]
    return [_host_key(what, args) for what, args in wanted]


def _host_key(what: str, args: list[str]) -> Result:
    done = _git(["ssh", "-G", *args], clean_env())
    config: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        config.setdefault(key.lower(), value)
    host, port = config.get("hostname", args[-1]), config.get("port", "22")
    name = host if port == "22" else f"[{host}]:{port}"
    check = config.get("stricthostkeychecking", "ask").lower()
    if check in ("no", "false", "off"):
        return Result(
            f"ssh {name}", OK, f"{what}: host keys are not checked (StrictHostKeyChecking no)"
        )
    files = [
        Path(os.path.expanduser(f))
        for key in ("userknownhostsfile", "globalknownhostsfile")
        for f in config.get(key, "").split()
    ]
    for known in files:
        if known.is_file():
            found = _git(["ssh-keygen", "-F", name, "-f", str(known)], clean_env())
            if found.returncode == 0 and found.stdout.strip():
                return Result(f"ssh {name}", OK, f"{what}: host key known ({known})")
    if check == "accept-new":
        return Result(
            f"ssh {name}",
            OK,
            f"{what}: not known yet; accepted at the first connection (accept-new)",
        )
    where = files[0] if files else Path("~/.ssh/known_hosts")
    port_flag = "" if port == "22" else f"-p {port} "
    return Result(
        f"ssh {name}",
        FAIL,
        f"{what}: the host key is not in {', '.join(str(f) for f in files) or 'known_hosts'}; "
        "ssh would refuse to connect, with nobody there to ask",
        f"ssh-keyscan {port_flag}{host} >> {where} (compare the fingerprint with the host's), "
        "and mount it where opsbot runs",
    )


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
