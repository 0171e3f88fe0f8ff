"""The composition root: the only place that reads the environment, configures logging,
builds clients, creates the app and starts the scheduler."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import bot
from bot import export
from bot.config import ConfigError, Settings, load_settings
from bot.redact import install_log_filter, remember_settings
from bot.serve import serve
from bot.store import CannotUpgrade, DatabaseUnreachable, NewerDatabase, Store, now_utc
from bot.store.base import unwritable
from bot.wiring import assemble, open_store
from jobs import JOBS, describe_jobs, run_by_hand

log = logging.getLogger("opsbot")


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
    except (ConfigError, NewerDatabase, CannotUpgrade, DatabaseUnreachable) as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`opsbot doctor --json | head`): nothing is lost, nothing to
        # say. What is left in stdout's buffer goes nowhere, not into a second traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


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
    events = sub.add_parser(
        "inbox", help="list Slack events waiting or given up on; retry or drop one"
    )
    events.add_argument("action", nargs="?", choices=["list", "retry", "drop"], default="list")
    events.add_argument("id", nargs="?", type=int, help="the row, for retry and drop")
    events.set_defaults(run=_inbox)
    move = sub.add_parser(
        "migrate", help="copy this database into an empty PostgreSQL database, and check it"
    )
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://USER@HOST/DB")
    move.set_defaults(run=_migrate)
    out = sub.add_parser("export", help="incidents, pages or alerts since a day, as CSV or JSON")
    out.add_argument("what", choices=sorted(export.WHAT))
    out.add_argument("--since", type=_day, help="YYYY-MM-DD, in UTC (default: 90 days ago)")
    out.add_argument("--format", choices=["csv", "json"], default="csv")
    out.add_argument("-o", "--output", type=Path, help="a new file (default: standard output)")
    out.set_defaults(run=_export)
    return parser


def _day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2026-09-01") from None


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


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    names = (
        ("slack_bot_token", "slack_app_token")
        if args.socket
        else ("slack_bot_token", "slack_signing_secret")
    )
    token, second = _require(settings, *names)
    return serve(settings, token, second, socket=args.socket, host=args.host)


def _shell(args: argparse.Namespace, settings: Settings) -> int:
    from bot.tools.console import Console, console_settings

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


def _retry_or_drop(
    args: argparse.Namespace,
    retry: Callable[[int, datetime], bool],
    drop: Callable[[int, datetime], bool],
) -> int:
    """`retry` puts a given-up row back in line (a running `opsbot serve` takes it);
    `drop` gives up on one for good."""
    if args.id is None:
        print(f"opsbot {args.run.__name__[1:]} {args.action}: which row? (a number from the list)")
        return 2
    done = (retry if args.action == "retry" else drop)(args.id, now_utc())
    verb = "back in line" if args.action == "retry" else "dropped"
    print(f"#{args.id} {verb}." if done else f"#{args.id} is not waiting or dead; nothing changed.")
    return 0 if done else 1


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    """What the bot still owes Slack and third parties, and what it gave up on."""
    store = open_store(settings)
    if args.action != "list":
        return _retry_or_drop(args, store.outbox.retry_effect, store.outbox.drop_effect)
    now = now_utc()
    summary = store.outbox.outbox_summary(now)
    print(
        f"{summary['pending']} waiting (oldest {summary['oldest_seconds']:.0f} s), "
        f"{summary['dead']} dead or refused"
    )
    for effect in store.outbox.effects(("pending", "dead", "refused")):
        age = (now - effect.created_at).total_seconds()
        where = f"INC-{effect.incident}" if effect.incident else effect.lane
        error = f"  last error: {effect.last_error}" if effect.last_error else ""
        print(
            f"#{effect.id:<6} {effect.state:8} {effect.kind:16} {where:20} "
            f"{effect.attempts} tries, {age:.0f} s old{error}"
        )
    return 0


def _inbox(args: argparse.Namespace, settings: Settings) -> int:
    """Slack events stored and not yet processed, and those given up on."""
    store = open_store(settings)
    if args.action != "list":
        return _retry_or_drop(args, store.inbox.retry_inbox, store.inbox.drop_inbox)
    now = now_utc()
    summary = store.inbox.inbox_summary(now)
    print(
        f"{summary['pending']} waiting (oldest {summary['oldest_seconds']:.0f} s), "
        f"{summary['dead']} dead"
    )
    for event in store.inbox.inbox_events(("pending", "dead")):
        age = (now - event.received_at).total_seconds() if event.received_at else 0
        kind = str((json.loads(event.body).get("event") or {}).get("type", "?"))
        error = f"  last error: {event.last_error}" if event.last_error else ""
        print(
            f"#{event.id:<6} {event.state:8} {kind:20} {event.attempts} tries, "
            f"{age:.0f} s old{error}"
        )
    return 0


def _init(args: argparse.Namespace, settings: Settings) -> int:
    from bot.tools import init

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
    from bot.tools import doctor

    results = doctor.run(settings, socket=args.socket)
    print(doctor.report(results, args.json))
    return 1 if any(r.state == doctor.FAIL for r in results) else 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    """A consistent copy while the bot runs (SQLite's online backup API)."""
    if settings.on_postgresql:
        raise ConfigError(
            "OPSBOT_DATABASE_URL is set: opsbot's data is on PostgreSQL; copy it with pg_dump"
        )
    if not Path(settings.opsbot_db).exists():
        raise ConfigError(f"OPSBOT_DB: no database at {settings.opsbot_db}")
    target: Path = args.path
    if target.is_dir():
        target = target / f"opsbot-{now_utc():%Y%m%d-%H%M%S}.db"
    if target.exists():
        raise ConfigError(f"{target} exists; name a new file or a directory")
    try:
        Store(settings.opsbot_db).backup_to(target)
    except (OSError, sqlite3.Error) as exc:
        why = unwritable(exc) or getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"could not write {target} ({why}); nothing was left behind") from None
    print(f"Copied {settings.opsbot_db} to {target}.")
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store.copy import CopyRefused, copy_to  # SQLAlchemy only for this command

    if not Path(settings.opsbot_db).exists():
        raise ConfigError(f"OPSBOT_DB: no database at {settings.opsbot_db}")
    # the source is always the SQLite file, brought to the newest schema first as at any start
    open_store(settings.model_copy(update={"opsbot_database_url": None})).close()
    print(f"Copying {settings.opsbot_db} ...", flush=True)
    try:
        copied = copy_to(str(settings.opsbot_db), args.to, lambda line: print(f"  {line}"))
    except CopyRefused as exc:
        raise ConfigError(str(exc)) from None
    rows = sum(copied.counts.values())
    print(
        f"Copied {rows} rows in {len(copied.counts)} tables to {copied.target} (schema at "
        f"revision {copied.revision}); every table's count checked. {settings.opsbot_db} "
        "is unchanged."
    )
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    """Written whole or not at all: a file is made beside the target, then renamed."""
    since = args.since or now_utc() - timedelta(days=90)
    rows = export.WHAT[args.what](open_store(settings), since)
    if args.output is None:
        export.write(rows, args.format, sys.stdout, args.what)
        return 0
    if args.output.exists():
        raise ConfigError(f"{args.output} exists; name a new file")
    part = args.output.with_name(args.output.name + ".part")
    try:
        with part.open("w", encoding="utf-8", newline="") as file:
            export.write(rows, args.format, file, args.what)
        part.rename(args.output)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ConfigError(f"could not write {args.output} ({exc.strerror})") from None
    print(f"Exported {len(rows)} {args.what} since {since:%Y-%m-%d} to {args.output}.")
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
