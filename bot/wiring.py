"""The composition root: what opsbot is made of, assembled in one place.

The core (bot/) knows no command, job or delivery kind by name: this module builds the bot
from settings (the store, the outbox with the table of every delivery kind, the Slack
client, the pools, the apps with the table of every command) and hands the tables to the
core. It and bot/cli.py, which reads the environment and runs what is asked, are the only
core modules that import commands/ and jobs/.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import sys
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from pymongo import MongoClient
from slack_bolt import App

import jobs
from bot import posting
from bot.app import create_app, make_client
from bot.config import ConfigError, Settings
from bot.deps import Deps
from bot.identity import SlackIdentity, TokenRejected
from bot.inbox import Inbox
from bot.kinds import Kind
from bot.leader import Leadership
from bot.outbox import Outbox
from bot.owners import owner_gone, release_dead
from bot.pools import Pools
from bot.server import make_server, wsgi_app
from bot.steady import SteadyClock
from bot.store import Store, now_utc, serve_lock
from bot.surface import Route
from commands import SURFACES
from commands.backup import service as backups
from commands.rollback import service as rollbacks

log = logging.getLogger("opsbot")


def delivery_kinds() -> dict[str, Kind]:
    """Every kind of outbox row and how it is delivered."""
    kinds = dict(posting.KINDS)
    for surface in SURFACES:
        kinds.update(surface.kinds)
    return kinds


def routes() -> tuple[Route, ...]:
    """The HTTP routes the surfaces serve besides Slack's (alert intake, the status page)."""
    return tuple(route for surface in SURFACES for route in surface.routes)


def assemble(
    settings: Settings,
    token: str,
    *,
    clock: Callable[[], datetime] | None = None,
    mongo: Callable[[], MongoClient[Any]] | None = None,
) -> Deps:
    """Everything the bot runs on, from settings: migrated store, Slack client, thread pools."""
    store = open_store(settings)
    outbox = Outbox(store, settings, token, delivery_kinds())
    deps = Deps(
        settings=settings,
        store=store,
        outbox=outbox,
        pools=Pools.from_settings(settings),
        slack=make_client(token, settings.slack_api_url),
        clock=clock or SteadyClock(),  # never runs backwards (bot/steady.py)
        mongo=mongo or _mongo(settings),
        next_jobs=jobs.next_runs,
    )
    outbox.bind(deps)
    return deps


def open_store(settings: Settings) -> Store:
    """The store, its schema brought up to date: on PostgreSQL when OPSBOT_DATABASE_URL is
    set, else in the SQLite file OPSBOT_DB (copied beside itself before an upgrade)."""
    store = Store(settings.database)
    copy = store.migrate()
    if copy is not None:
        log.warning("Upgrading %s: a copy from before the upgrade is at %s", store.path, copy)
    return store


def recover(deps: Deps, previous: str = "") -> None:
    """What a crash cut short, put right by the process that leads, each time one starts
    leading (bot/leader.py): what was left running by a process that is gone (one on this
    host that died, the leader before this one, whose lease ran out, or on SQLite, whose one
    `opsbot serve` this is, any other), never what another live process runs."""
    me, only = deps.outbox.owner, not deps.settings.on_postgresql

    def gone(owner: str | None) -> bool:
        if owner is None or only or owner == previous:
            return owner != me
        return owner_gone(owner, me)

    backups.recover(deps, gone)  # a backup cut short is marked failed, its files removed
    rollbacks.recover(deps, gone)  # a rollback cut short is marked interrupted, said in its thread
    if previous:  # its scheduled runs and interval jobs are this leader's now
        deps.store.jobs.interrupt_runs(previous)
        deps.store.jobs.release_ticks(previous, now_utc())
    release_dead(deps.store, me)  # what a process on this host that died had claimed


def lead(deps: Deps) -> Leadership:
    """Lead, or stand by until the leader is gone: the lease of `opsbot serve`."""
    settings = deps.settings
    return Leadership(
        deps.store,
        deps.outbox.owner,
        settings.leader.lease_seconds,
        exclusive=not settings.on_postgresql,  # the file lock says no other serve runs
        on_lead=lambda fence, previous: recover(deps, previous),
    ).start()


class AlreadyServing(ConfigError):
    """Another `opsbot serve` holds the SQLite file."""


def own_database(settings: Settings) -> IO[str] | None:
    """The one `opsbot serve` per SQLite file: an exclusive lock beside it, held for the
    process's life and released when it dies, even by kill -9 (the returned handle holds
    it). Any number may serve one PostgreSQL database: one of them leads (bot/leader.py)."""
    if settings.on_postgresql:
        return None
    return _own_file(settings.opsbot_db)


def _own_file(path: Path) -> IO[str]:
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
    deps: Deps,
    secret: str,
    host: str,
    port: int,
    scheduler_running: Callable[[], bool],
    identity: SlackIdentity,
    leadership: Leadership | None = None,
) -> tuple[Any, Inbox]:
    """The HTTP edge of `opsbot serve`: Bolt on /slack/events and /healthz, under waitress,
    and the inbox that processes the events it stores."""
    app, inbox = apps(deps, secret, identity)
    leader = leadership.status if leadership is not None else None
    application = wsgi_app(app, deps, scheduler_running, secret, identity.status, routes(), leader)
    return make_server(application, host, port), inbox


def apps(
    deps: Deps,
    secret: str,
    identity: SlackIdentity | None = None,
    listeners: Executor | None = None,
) -> tuple[App, Inbox]:
    """The app Slack's requests reach, and the inbox with its own app for stored events, with
    every surface's listeners; both authorized by `identity` without asking Slack
    (bot/identity.py), or by Bolt when there is none (the console's local Slack)."""
    authorize = identity.authorizer() if identity is not None else None

    def app(for_inbox: bool) -> App:
        return create_app(
            deps,
            signing_secret=secret,
            listener_executor=listeners or deps.pools.listeners,
            surfaces=SURFACES,
            for_inbox=for_inbox,
            authorize=authorize,
        )

    return app(for_inbox=False), Inbox(app(for_inbox=True), deps)


def check_token(deps: Deps, token: str) -> SlackIdentity:
    """Who the token is in Slack. A token Slack rejects is a clear stop; a Slack that does
    not answer is not: opsbot serves without it and checks again in the background."""
    identity = SlackIdentity(deps.store, token, deps.settings.slack_api_url)
    try:
        reachable = identity.check()
    except TokenRejected as exc:
        raise ConfigError(
            f"SLACK_BOT_TOKEN: Slack rejected it ({exc}); copy the Bot User OAuth Token "
            "(xoxb-…) from your app's OAuth & Permissions page, or reinstall the app"
        ) from None
    if not reachable:
        print(
            f"opsbot: Slack at {deps.settings.slack_api_url} did not answer "
            f"({identity.problem}); serving anyway: alerts, the status page, /healthz, timers "
            "and PagerDuty work, Slack's messages wait in the outbox until it answers.",
            file=sys.stderr,
            flush=True,
        )
    return identity
