"""`opsbot serve`: the HTTP edge (or Socket Mode), the inbox, the outbox and the scheduler,
started in order and stopped within a grace period; a start while Slack is down, a token
Slack rejects, SIGTERM. Beside other `opsbot serve` on one PostgreSQL database, it answers
Slack and delivers as they do, and runs the scheduler only while it leads (bot/leader.py)."""

from __future__ import annotations

import _thread
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

from slack_bolt import App
from slack_sdk.errors import SlackApiError

import bot
from bot.config import Settings
from bot.deps import Deps
from bot.failures import failure_text
from bot.wiring import apps, assemble, check_token, http_server, lead, own_database
from commands.rollback import service as rollbacks
from jobs.scheduler import Scheduler

log = logging.getLogger("opsbot")

SHUTDOWN_GRACE_SECONDS = 5


def serve(settings: Settings, token: str, second: str, *, socket: bool, host: str) -> int:
    """Serve until SIGTERM or Ctrl-C (0), or until Slack rejects the token (2). `second` is
    the signing secret, or in Socket Mode the app-level token."""
    _stop_on_sigterm()  # from the first moment: SIGTERM always ends the bot
    owned = own_database(settings)  # noqa: F841  (held until the process ends)
    deps = assemble(settings, token)
    identity = check_token(deps, token)
    leadership = lead(deps)  # the leader puts right what a crash cut short, then schedules
    _check_setup(deps, socket)
    if socket:
        app, inbox = apps(deps, "", identity)
    else:
        server, inbox = http_server(
            deps, second, host, settings.port, lambda: scheduler.running, identity, leadership
        )
    rejected: list[str] = []

    def stop_rejected(code: str) -> None:  # a token revoked while serving: a clear stop
        rejected.append(code)
        _thread.interrupt_main()

    identity.watch(stop_rejected)
    deps.outbox.start()
    inbox.start()
    scheduler = Scheduler(deps, leading=leadership.fence).start()
    try:
        if socket:
            socket_mode(app, second, deps)
        else:
            serving = (
                f"opsbot {bot.__version__} serving /slack/events and /healthz "
                f"on {host}:{settings.port}"
            )
            log.info("%s", serving)
            print(serving, flush=True)
            server.run()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop(SHUTDOWN_GRACE_SECONDS)
        leadership.stop()  # a standby leads at its next look, not when the lease runs out
    inbox.stop()
    if rejected:
        print(
            f"opsbot: SLACK_BOT_TOKEN: Slack now rejects it ({rejected[0]}); stopping.",
            file=sys.stderr,
            flush=True,
        )
    _drain(deps, 2 if rejected else 0)
    return 2 if rejected else 0


def socket_mode(app: App, app_token: str, deps: Deps) -> None:
    """Connect to Slack's Socket Mode and stay: while Slack does not answer, keep trying
    (with backoff), as everything else serves on."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token=app_token, web_client=deps.slack)
    wait = 1.0
    while True:
        try:
            handler.connect()  # type: ignore[no-untyped-call]
            break
        except (SlackApiError, OSError) as exc:
            log.warning(
                "Socket Mode: cannot connect (%s); trying again in %.0f s", failure_text(exc), wait
            )
            time.sleep(wait)
            wait = min(wait * 2, 60.0)
    threading.Event().wait()


def _check_setup(deps: Deps, socket_mode: bool) -> None:
    """The doctor's quick checks (no network), each problem one log line; the App Home
    shows the outcome."""
    from bot.tools import doctor

    results = doctor.run(deps.settings, socket=socket_mode, fast=True, serving=True)
    for result in results:
        if result.state == doctor.FAIL:
            log.warning("setup: %s: %s (fix: %s)", result.check, result.detail, result.fix)
    deps.store.set_state(doctor.STATE_KEY, doctor.report(results, as_json=True))


def _drain(deps: Deps, code: int = 0) -> None:
    """Give deliveries in flight a few seconds, then go: a Slack outage must not hold up a
    restart. Every owed effect is an outbox row in SQLite, delivered at the next start."""
    rollbacks.stop_steps(deps)  # a step still running must not outlive the bot
    deps.outbox.stop(SHUTDOWN_GRACE_SECONDS)
    deps.pools.shutdown(wait=False)
    logging.shutdown()
    os._exit(code)  # threads still waiting on a hung probe or Slack must not hold the exit


def _stop_on_sigterm() -> None:
    # docker stop sends SIGTERM: leave the serve loop the same way Ctrl-C does.
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
