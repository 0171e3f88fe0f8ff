"""The composition root: the only place that reads the environment, configures logging,
builds clients, creates the app and starts the scheduler."""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from pymongo import MongoClient
from slack_bolt import App
from slack_bolt.error import BoltError

import bot
from bot.app import create_app, make_client
from bot.config import ConfigError, Settings, load_settings
from bot.deps import Deps
from bot.inbox import Inbox
from bot.outbox import Outbox
from bot.pools import Pools
from bot.redact import install_log_filter, remember_settings
from bot.server import make_server, wsgi_app
from bot.steady import SteadyClock
from bot.store import NewerDatabase, Store, now_utc, serve_lock
from commands.backup import service as backups
from commands.rollback import service as rollbacks
from jobs import JOBS, describe_jobs, run_by_hand
from jobs.scheduler import Scheduler

log = logging.getLogger("opsbot")

# Bolt runs every listener on this pool; its default of 5 lets five slow listeners starve
# the sixth request's ack past Slack's 3 seconds.
LISTENER_THREADS = 32
SHUTDOWN_GRACE_SECONDS = 5


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_filter(logging.getLogger().handlers)  # no secret reaches the log
    try:
        try:
            settings = load_settings()
        except ConfigError as exc:
            if args.run is _doctor:  # the doctor says it as a failed check, not a crash
                print(f"✗ config: {exc}\n    fix: correct that setting, then run it again")
                return 1
            raise
        remember_settings(settings)
        result: int = args.run(args, settings)
        return result
    except (ConfigError, NewerDatabase) as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsbot", description=bot.__doc__)
    parser.add_argument("--version", action="version", version=f"opsbot {bot.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve Slack over HTTP on PORT (or Socket Mode)")
    serve.add_argument("--socket", action="store_true", help="Socket Mode (SLACK_APP_TOKEN)")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    serve.set_defaults(run=_serve)
    shell = sub.add_parser("shell", help="try the bot in a local console, no Slack needed")
    shell.add_argument(
        "--db",
        type=Path,
        default=Path("opsbot-shell.db"),
        help="the shell's own SQLite file (default ./opsbot-shell.db; never OPSBOT_DB)",
    )
    shell.add_argument(
        "--real-targets",
        action="store_true",
        help="act on the MongoDB, API, release checkout and third parties your environment and "
        "config name (default: local stand-ins, nothing real is touched)",
    )
    shell.set_defaults(run=_shell)
    init = sub.add_parser(
        "init", help="write the Slack app manifest, opsbot.toml and opsbot.env for your setup"
    )
    mode = init.add_mutually_exclusive_group()
    mode.add_argument("--url", help="the bot's public https URL (Slack posts to URL/slack/events)")
    mode.add_argument("--socket", action="store_true", help="Socket Mode: no public URL")
    init.add_argument("--incidents-channel", help="where incident cards go (default #incidents)")
    init.add_argument("--digest-channel", help="where digests go (default: the incidents one)")
    init.add_argument("--dir", type=Path, default=Path("."), help="where to write (default .)")
    init.add_argument(
        "--docker",
        action="store_true",
        help="for the image and docker-compose.yml: data paths left to the image (/data)",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(run=_init)
    doctor = sub.add_parser("doctor", help="check the setup: tokens, scopes, channels, targets")
    doctor.add_argument("--socket", action="store_true", help="check for Socket Mode")
    doctor.add_argument("--json", action="store_true", help="the results as JSON")
    doctor.set_defaults(run=_doctor)
    job = sub.add_parser("run-job", help="run one scheduled job now")
    job.add_argument("name", choices=sorted(JOBS), metavar="NAME", help=", ".join(sorted(JOBS)))
    job.add_argument("--dry-run", action="store_true", help="say what it would do; do nothing")
    job.add_argument(
        "--month", type=_month, help="maintenance-log only: post the log of YYYY-MM now"
    )
    job.set_defaults(run=_run_job)
    listing = sub.add_parser("jobs", help="list scheduled jobs with their last and next run")
    listing.set_defaults(run=_jobs)
    db = sub.add_parser("db", help="opsbot's own database: `db backup PATH` copies it online")
    db.add_argument("action", choices=["backup"])
    db.add_argument("path", type=Path, help="a file, or a directory to put a dated copy in")
    db.set_defaults(run=_db)
    owed = sub.add_parser("outbox", help="list effects waiting or given up on; retry or drop one")
    owed.add_argument("action", nargs="?", choices=["list", "retry", "drop"], default="list")
    owed.add_argument("id", nargs="?", type=int, help="the row, for retry and drop")
    owed.set_defaults(run=_outbox)
    return parser


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-11") from None


def _require(settings: Settings, *names: str) -> list[str]:
    missing = [name.upper() for name in names if getattr(settings, name) is None]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} must be set: `opsbot init` writes opsbot.env naming each "
            "one and where Slack shows it; fill it in and load it (`set -a; . ./opsbot.env; "
            "set +a`). See docs/install.md."
        )
    return [getattr(settings, name).get_secret_value() for name in names]


def assemble(
    settings: Settings,
    token: str,
    *,
    clock: Callable[[], datetime] | None = None,
    mongo: Callable[[], MongoClient[Any]] | None = None,
) -> Deps:
    """Everything the bot runs on, from settings: migrated store, Slack client, thread pools."""
    store = Store(settings.opsbot_db)
    copy = store.migrate()
    if copy is not None:
        log.warning("Upgrading %s: a copy from before the upgrade is at %s", store.path, copy)
    outbox = Outbox(store, settings, token)
    deps = Deps(
        settings=settings,
        store=store,
        outbox=outbox,
        pools=Pools.from_settings(settings),
        slack=make_client(token, settings.slack_api_url),
        clock=clock or SteadyClock(),  # never runs backwards (bot/steady.py)
        mongo=mongo or _mongo(settings),
    )
    outbox.bind(deps)
    return deps


def recover(deps: Deps) -> None:
    """What a crash cut short, put right: only by the process that owns the database (the
    one `opsbot serve`), never by `opsbot jobs` or `run-job` beside a running bot."""
    backups.recover(deps)  # a backup cut short by a crash is marked failed, its files removed
    rollbacks.recover(deps)  # a rollback cut short is marked interrupted and said in its thread


class AlreadyServing(ConfigError):
    """Another `opsbot serve` holds the database."""


def own_database(path: Path) -> IO[str]:
    """The one `opsbot serve` per database: an exclusive lock on a file beside it, held for
    the process's life and released by the system when it dies, even by kill -9."""
    lock = serve_lock(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = lock.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyServing(
            f"OPSBOT_DB: {path} is served by {holder}; one `opsbot serve` per database "
            "(stop the other, or give this one its own OPSBOT_DB)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return handle


def _mongo(settings: Settings) -> Callable[[], MongoClient[Any]] | None:
    """One client for the process; pymongo connects lazily, in the background."""
    if settings.mongodb_uri is None:
        return None
    wait_ms = settings.health.timeout_seconds * 1000
    client: MongoClient[Any] = MongoClient(
        settings.mongodb_uri.get_secret_value(),
        serverSelectionTimeoutMS=wait_ms,
        connectTimeoutMS=wait_ms,
        socketTimeoutMS=wait_ms,
    )
    return lambda: client


def http_server(
    deps: Deps, secret: str, host: str, port: int, scheduler_running: Callable[[], bool]
) -> tuple[Any, Inbox]:
    """The HTTP edge of `opsbot serve`: Bolt on /slack/events and /healthz, under waitress,
    and the inbox that processes the events it stores."""
    app, inbox = apps(deps, secret)
    return make_server(wsgi_app(app, deps, scheduler_running, secret), host, port), inbox


def apps(deps: Deps, secret: str) -> tuple[App, Inbox]:
    """The app Slack's requests reach, and the inbox with its own app for stored events."""
    listeners = ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="opsbot-listener")
    sdk_log = logging.getLogger("slack_sdk.web.base_client")
    sdk_log.setLevel(logging.CRITICAL)  # each retry of an unreachable Slack: one line below
    try:
        app = create_app(deps, signing_secret=secret, listener_executor=listeners)
        stored = create_app(
            deps,
            signing_secret=secret,
            listener_executor=listeners,
            verify_token=False,
            for_inbox=True,
        )
    except BoltError as exc:  # auth.test refused the token
        raise ConfigError(f"SLACK_BOT_TOKEN: Slack did not accept it ({exc})") from None
    except OSError as exc:  # no route, refused, DNS, TLS: the first call is Bolt's auth.test
        reason = getattr(exc, "reason", None) or exc
        raise ConfigError(
            f"cannot reach Slack at {deps.settings.slack_api_url} ({reason}): check the "
            "network, a proxy, or SLACK_API_URL"
        ) from None
    finally:
        sdk_log.setLevel(logging.NOTSET)
    return app, Inbox(stored, deps)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    names = (
        ("slack_bot_token", "slack_app_token")
        if args.socket
        else ("slack_bot_token", "slack_signing_secret")
    )
    token, second = _require(settings, *names)
    _stop_on_sigterm()  # from the first moment: SIGTERM always ends the bot
    owned = own_database(settings.opsbot_db)  # noqa: F841  (held until the process ends)
    deps = assemble(settings, token)
    recover(deps)
    _check_setup(deps, args.socket)
    if args.socket:
        app, inbox = apps(deps, "")
    else:
        server, inbox = http_server(
            deps, second, args.host, settings.port, lambda: scheduler.running
        )
    deps.outbox.start()
    inbox.start()
    scheduler = Scheduler(deps).start()
    try:
        if args.socket:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(app, app_token=second, web_client=deps.slack)
            handler.start()  # type: ignore[no-untyped-call]
        else:
            serving = (
                f"opsbot {bot.__version__} serving /slack/events and /healthz "
                f"on {args.host}:{settings.port}"
            )
            log.info("%s", serving)
            print(serving, flush=True)
            server.run()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
    inbox.stop()
    _drain(deps)
    return 0


def _check_setup(deps: Deps, socket_mode: bool) -> None:
    """The doctor's quick checks (no network), each problem one log line; the App Home
    shows the outcome."""
    from bot import doctor

    results = doctor.run(deps.settings, socket=socket_mode, fast=True, serving=True)
    for result in results:
        if result.state == doctor.FAIL:
            log.warning("setup: %s: %s (fix: %s)", result.check, result.detail, result.fix)
    deps.store.set_state(doctor.STATE_KEY, doctor.report(results, as_json=True))


def _drain(deps: Deps) -> None:
    """Give deliveries in flight a few seconds, then go: a Slack outage must not hold up a
    restart. Every owed effect is an outbox row in SQLite, delivered at the next start."""
    rollbacks.stop_steps(deps)  # a step still running must not outlive the bot
    deps.outbox.stop(SHUTDOWN_GRACE_SECONDS)
    deps.pools.shutdown(wait=False)
    logging.shutdown()
    os._exit(0)  # threads still waiting on a hung probe or Slack must not hold the exit


def _stop_on_sigterm() -> None:
    # docker stop sends SIGTERM: leave the serve loop the same way Ctrl-C does.
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _shell(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console import Console, console_settings

    # Its own database: trying the shell never touches a real bot's data. Its log goes to a
    # file beside it, so a delivery retried in the background prints no traceback here.
    log_file = args.db.with_name(args.db.stem + ".log")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    to_file = logging.FileHandler(log_file)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    install_log_filter(root.handlers)
    # Backups, rollbacks, probes and third parties use local stand-ins unless asked.
    local = console_settings(settings, args.db, args.real_targets)
    console = Console(local, sys.stdout, real_targets=args.real_targets)
    try:
        console.run(sys.stdin, interactive=sys.stdin.isatty())
    except KeyboardInterrupt:
        print()
    finally:
        console.close()
    return 0


def _jobs(args: argparse.Namespace, settings: Settings) -> int:
    deps = assemble(settings, "xoxb-not-used")
    for name, description, last, upcoming in describe_jobs(deps, deps.clock()):
        print(f"{name:20} next {upcoming:22} last {last}\n{'':20} {description}")
    return 0


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    """What the bot still owes Slack and third parties. `retry` puts a dead row back in line
    (a running `opsbot serve` delivers it); `drop` gives up on one for good."""
    store = Store(settings.opsbot_db)
    copy = store.migrate()
    if copy is not None:
        log.warning("Upgrading %s: a copy from before the upgrade is at %s", store.path, copy)
    now = now_utc()
    if args.action != "list":
        if args.id is None:
            print(f"opsbot outbox {args.action}: which row? (a number from `opsbot outbox`)")
            return 2
        done = (store.retry_effect if args.action == "retry" else store.drop_effect)(args.id, now)
        verb = "back in line" if args.action == "retry" else "dropped"
        print(
            f"#{args.id} {verb}."
            if done
            else f"#{args.id} is not waiting or dead; nothing changed."
        )
        return 0 if done else 1
    summary = store.outbox_summary(now)
    print(
        f"{summary['pending']} waiting (oldest {summary['oldest_seconds']:.0f} s), "
        f"{summary['dead']} dead"
    )
    for effect in store.effects(("pending", "dead")):
        age = (now - effect.created_at).total_seconds()
        where = f"INC-{effect.incident}" if effect.incident else effect.lane
        error = f"  last error: {effect.last_error}" if effect.last_error else ""
        print(
            f"#{effect.id:<6} {effect.state:8} {effect.kind:16} {where:20} "
            f"{effect.attempts} tries, {age:.0f} s old{error}"
        )
    return 0


def _init(args: argparse.Namespace, settings: Settings) -> int:
    from bot import init

    asking = sys.stdin.isatty()

    def ask(question: str, default: str) -> str:
        if not asking:
            return default
        answer = input(f"{question} [{default}]: ").strip() if default else input(question + ": ")
        return answer.strip() or default

    url: str | None = None
    if args.url is not None:
        try:
            url = init.request_url(args.url)
        except ValueError as exc:
            raise ConfigError(f"--url {args.url}: {exc}") from None
    elif not args.socket:
        if not asking:
            raise ConfigError(
                "say where Slack reaches the bot: --url ops.example.com (https:// is assumed) "
                "or --socket"
            )
        url = init.ask_url(lambda question: ask(question, ""), print)
    incidents = args.incidents_channel or ask("Incidents channel", "#incidents")
    digest = args.digest_channel or ask("Digest channel", incidents)
    plan = init.Plan(url, incidents, None if digest == incidents else digest, args.dir, args.docker)
    written = plan.files()
    existing = [path for path in written if path.exists()]
    if existing and not args.force:
        names = ", ".join(str(p) for p in existing)
        raise ConfigError(f"{names} already exist; nothing was written (--force overwrites)")
    args.dir.mkdir(parents=True, exist_ok=True)
    for path, text in written.items():
        path.write_text(text)
        if path.name.endswith(".env"):
            path.chmod(0o600)  # it will hold the tokens: readable by this user only
        print(f"wrote {path}")
    print("\nLeft to do:")
    for number, step in enumerate(plan.steps(), start=1):
        print(f"{number}. {step}")
    return 0


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot import doctor

    results = doctor.run(settings, socket=args.socket)
    print(doctor.report(results, args.json))
    return 1 if any(r.state == doctor.FAIL for r in results) else 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    """A consistent copy while the bot runs (SQLite's online backup API)."""
    if not Path(settings.opsbot_db).exists():
        raise ConfigError(f"OPSBOT_DB: no database at {settings.opsbot_db}")
    target: Path = args.path
    if target.is_dir():
        target = target / f"opsbot-{now_utc():%Y%m%d-%H%M%S}.db"
    if target.exists():
        raise ConfigError(f"{target} exists; name a new file or a directory")
    Store(settings.opsbot_db).backup_to(target)
    print(f"Copied {settings.opsbot_db} to {target}.")
    return 0


def _run_job(args: argparse.Namespace, settings: Settings) -> int:
    if args.dry_run and settings.slack_bot_token is None:
        token = "xoxb-dry-run"  # a dry run posts nothing, so it needs no workspace
    else:
        (token,) = _require(settings, "slack_bot_token")
    if args.month and args.name != "maintenance-log":
        raise ConfigError("--month goes with maintenance-log only")
    deps = assemble(settings, token)
    extra = {"month": args.month} if args.month else {}
    print(run_by_hand(args.name, deps, dry_run=args.dry_run, **extra))
    if not args.dry_run:
        try:
            deps.outbox.drain(timeout=60)
        except TimeoutError:
            print(
                "Some posts are still waiting (Slack is slow or refusing); "
                "`opsbot serve` delivers them, `opsbot outbox` lists them."
            )
    return 0
