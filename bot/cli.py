"""The composition root: the only place that reads the environment, configures logging,
builds clients, creates the app and starts the scheduler."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import FrameType
from typing import Any

from pymongo import MongoClient
from slack_bolt import App
from slack_bolt.error import BoltError

import bot
from bot.app import create_app, make_client
from bot.config import ConfigError, Settings, load_settings
from bot.deps import Deps
from bot.server import make_server, wsgi_app
from bot.store import Store, now_utc
from commands.backup import service as backups
from commands.rollback import service as rollbacks
from jobs import JOBS, describe_jobs, run_job, start_jobs

log = logging.getLogger("opsbot")

# Bolt runs every listener on this pool; its default of 5 lets five slow listeners starve
# the sixth request's ack past Slack's 3 seconds.
LISTENER_THREADS = 32
WORK_THREADS = 4
SHUTDOWN_GRACE_SECONDS = 5


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
        result: int = args.run(args, settings)
        return result
    except ConfigError as exc:
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
    shell.set_defaults(run=_shell)
    job = sub.add_parser("run-job", help="run one scheduled job now")
    job.add_argument("name", choices=sorted(JOBS), metavar="NAME", help=", ".join(sorted(JOBS)))
    job.add_argument("--dry-run", action="store_true", help="say what it would do; do nothing")
    job.set_defaults(run=_run_job)
    listing = sub.add_parser("jobs", help="list scheduled jobs with their last and next run")
    listing.set_defaults(run=_jobs)
    return parser


def _require(settings: Settings, *names: str) -> list[str]:
    missing = [name.upper() for name in names if getattr(settings, name) is None]
    if missing:
        raise ConfigError(f"{', '.join(missing)} must be set (see README: Configuration)")
    return [getattr(settings, name).get_secret_value() for name in names]


def assemble(
    settings: Settings,
    token: str,
    *,
    clock: Callable[[], datetime] = now_utc,
    mongo: Callable[[], MongoClient[Any]] | None = None,
) -> Deps:
    """Everything the bot runs on, from settings: migrated store, Slack client, thread pools."""
    store = Store(settings.opsbot_db)
    store.migrate()
    executor = ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="opsbot-work")
    outbox = ThreadPoolExecutor(1, thread_name_prefix="opsbot-outbox")
    deps = Deps(
        settings=settings,
        store=store,
        executor=executor,
        outbox=outbox,
        slack=make_client(token, settings.slack_api_url),
        clock=clock,
        mongo=mongo or _mongo(settings),
    )
    backups.recover(deps)  # a backup cut short by a crash is marked failed, its files removed
    rollbacks.recover(deps)  # a rollback cut short is marked interrupted, visibly
    return deps


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
) -> Any:
    """The HTTP edge of `opsbot serve`: Bolt on /slack/events and /healthz, under waitress."""
    listeners = ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="opsbot-listener")
    app = _app(deps, secret, listeners)
    return make_server(wsgi_app(app, deps, scheduler_running), host, port)


def _app(deps: Deps, secret: str, listeners: ThreadPoolExecutor) -> App:
    try:
        return create_app(deps, signing_secret=secret, listener_executor=listeners)
    except BoltError as exc:  # auth.test refused the token
        raise ConfigError(f"SLACK_BOT_TOKEN: Slack did not accept it ({exc})") from None


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    names = (
        ("slack_bot_token", "slack_app_token")
        if args.socket
        else ("slack_bot_token", "slack_signing_secret")
    )
    token, second = _require(settings, *names)
    deps = assemble(settings, token)
    if args.socket:
        listeners = ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="opsbot-listener")
        app = _app(deps, "", listeners)
    else:
        server = http_server(deps, second, args.host, settings.port, lambda: scheduler.running)
    scheduler = start_jobs(deps)
    _stop_on_sigterm()
    try:
        if args.socket:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(app, app_token=second, web_client=deps.slack)
            handler.start()  # type: ignore[no-untyped-call]
        else:
            log.warning(
                "opsbot %s serving /slack/events and /healthz on %s:%s",
                bot.__version__,
                args.host,
                settings.port,
            )
            server.run()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)
    _drain(deps)
    return 0


def _drain(deps: Deps) -> None:
    """Give queued Slack posts a few seconds, then go: a Slack outage must not hold up a
    restart. Everything is already committed; card-sync posts missing cards at next start."""
    try:
        deps.outbox.submit(lambda: None).result(timeout=SHUTDOWN_GRACE_SECONDS)
    except TimeoutError:
        log.warning("Slack posts still queued at shutdown were dropped")
        logging.shutdown()
        os._exit(0)


def _stop_on_sigterm() -> None:
    # docker stop sends SIGTERM: leave the serve loop the same way Ctrl-C does.
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _shell(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console import Console

    console = Console(settings, sys.stdout)
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


def _run_job(args: argparse.Namespace, settings: Settings) -> int:
    if args.dry_run and settings.slack_bot_token is None:
        token = "xoxb-dry-run"  # a dry run posts nothing, so it needs no workspace
    else:
        (token,) = _require(settings, "slack_bot_token")
    deps = assemble(settings, token)
    print(run_job(args.name, deps, now=deps.clock(), dry_run=args.dry_run))
    return 0
