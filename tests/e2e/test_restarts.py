"""A real `opsbot serve` started, killed and stopped at the moments that once lost or doubled
work: started while Slack is down, killed while a slow post is on its way, killed or
stopped while a scheduled job runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.store import Store
from bot.tools.localslack import LocalSlack, Message
from jobs import INSTALLED_KEY
from tests.e2e.conftest import SECRET, TOKEN, Server, free_port
from tests.e2e.fakes import ThirdParty
from tests.e2e.test_crash import command, settled, top_level
from tests.e2e.test_serve import wait_until
from tests.helpers import HTTP


def config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "opsbot.toml"
    path.write_text(text)
    return {"OPSBOT_CONFIG": str(path)}


def test_serve_starts_while_slack_is_down_and_catches_up_when_it_is_back(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """Slack answers 503 to everything, auth.test included: serve starts anyway, /healthz says
    it is degraded because Slack is unreachable, the status page and /incident work; when
    Slack is back the card arrives and /healthz is ok again."""
    workspace.fault(status=503)
    env = config(tmp_path, "[outbox]\nbackoff_cap_seconds = 0.5\n")
    server = Server(workspace, tmp_path / "opsbot.db", tmp_path / "serve.log", env=env)
    server.start(healthy=False)
    try:
        health = HTTP.get(server.url + "/healthz")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert health.json()["slack"] == {
            "state": "unreachable",
            "reason": "Slack internal_error (HTTP 503)",
        }
        assert HTTP.get(server.url + "/status").status_code == 200
        assert "INC-1 opened" in command(server, "open P1 Login broken")
        assert "Slack at" in (tmp_path / "serve.log").read_text()  # said once, plainly
        workspace.clear_faults()
        wait_until(lambda: Store(server.db).incidents.incident(1).card_ts, timeout=10)
        wait_until(lambda: HTTP.get(server.url + "/healthz").status_code == 200, timeout=10)
    finally:
        server.stop()


def test_slow_slack_and_a_kill_while_the_card_is_on_its_way_give_one_card(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """Slack takes 2.5 s to take a post; kill -9 lands while the card's post is on its way.
    The restarted bot waits out the call's timeout before looking for it, finds it and adopts
    it: one card, which the incident points at."""
    env = config(tmp_path, "[outbox]\ntimeout_seconds = 4\n")
    server = Server(workspace, tmp_path / "opsbot.db", tmp_path / "serve.log", env=env).start()
    try:
        slow = workspace.fault(method="chat.postMessage", delay=2.5)
        assert "INC-1 opened" in command(server, "open P1 Login broken")
        wait_until(lambda: slow.hits >= 1)  # the card's post has reached Slack, not landed
        server.kill()
        server.start()
        wait_until(lambda: settled(server.db), timeout=20)
        found: list[Message] = top_level(workspace, 1)
        assert len(found) == 1
        assert Store(server.db).incidents.incident(1).card_ts == found[0].ts
    finally:
        server.stop()


@pytest.mark.parametrize("stop", ["kill", "term"])
def test_a_scheduled_run_cut_short_is_said_and_run_again_once(
    workspace: LocalSlack, tmp_path: Path, stop: str
) -> None:
    """The daily digest is running (the API it reads hangs) when the process is killed (or
    stopped with SIGTERM, whose grace it outlasts). At the next start the run is found cut
    short, said in the digest channel, and run again: one digest."""
    api = ThirdParty()
    api.always = ("hang", 12)
    now = datetime.now(UTC)
    store = Store(tmp_path / "opsbot.db")
    store.migrate()
    store.set_state(INSTALLED_KEY, (now - timedelta(minutes=10)).isoformat())
    due = now - timedelta(minutes=2)
    env = config(
        tmp_path,
        f'[digest]\ndaily_time = "{due:%H:%M}"\ndaily_days = [0, 1, 2, 3, 4, 5, 6]\n'
        "[health]\ntimeout_seconds = 15\n",
    )
    env["PROMPTBASE_API_URL"] = api.url
    server = Server(workspace, tmp_path / "opsbot.db", tmp_path / "serve.log", env=env).start()
    try:

        def running() -> bool:
            runs = Store(server.db).jobs.job_runs("daily-digest")
            return bool(runs) and runs[0].status == "running"

        wait_until(running, timeout=10)  # the digest is under way, waiting on the API
        if stop == "kill":
            server.kill()
        else:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(15) == 0
        [run] = [r for r in Store(server.db).jobs.job_runs("daily-digest")]
        assert run.status == ("running" if stop == "kill" else "interrupted")
        api.always = None
        server.start()
        notice = wait_until(
            lambda: [m.text for m in workspace.history("#incidents") if "did not finish" in m.text]
        )
        assert "`daily-digest` due" in notice[0] and "running it again now" in notice[0]
        wait_until(
            lambda: Store(server.db).jobs.job_runs("daily-digest")[0].status == "ok", timeout=15
        )
        digests = [m for m in workspace.history("#incidents") if "check ·" in m.text]
        assert len(digests) == 1
    finally:
        server.stop()
        api.close()


def _can_mount_tmpfs() -> bool:
    probe = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c"]
    try:
        done = subprocess.run(
            [*probe, "mount -t tmpfs -o size=64k none /mnt"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs user and mount namespaces (unshare)")
def test_a_full_disk_turns_healthz_to_503_and_commands_say_why(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """opsbot's database lives on a 4 MB file system that fills up: commands answer that it
    cannot write its database (nothing changed), /healthz turns 503 with the reason, and both
    recover once there is room again."""
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    port = free_port()
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=workspace.api_base,
        OPSBOT_DB=str(data / "opsbot.db"),
        PORT=str(port),
    )
    mount = 'mount -t tmpfs -o size=4m none "$0" && exec "$@"'
    argv = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, str(data)]
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [*argv, sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(workspace, data / "opsbot.db", tmp_path / "serve.log")
    server.port, server.url, server.proc = port, f"http://127.0.0.1:{port}", proc
    try:
        wait_until(lambda: _healthz(server) == 200, timeout=20)
        assert "INC-1 opened" in command(server, "open P1 Before the disk filled")
        filler = Path(f"/proc/{proc.pid}/root") / data.relative_to("/") / "filler"
        # unbuffered: closing the file must not flush into the full disk again
        with filler.open("wb", buffering=0) as fill, contextlib.suppress(OSError):
            while True:
                fill.write(b"\0" * 65536)
        answers = [command(server, f"update INC-1 note {n} " + "x" * 2000) for n in range(40)]
        refused = [a for a in answers if "cannot write its database" in a]
        assert refused and "the disk is full" in refused[0] and "nothing was changed" in refused[0]
        health = HTTP.get(server.url + "/healthz")
        assert health.status_code == 503
        assert health.json()["store"] == "unwritable"
        assert (
            health.json()["store_problem"] == "opsbot cannot write its database: the disk is full"
        )
        filler.unlink()
        again = command(server, "update INC-1 the disk has room again")
        assert "cannot write" not in again
        wait_until(lambda: _healthz(server) == 200, timeout=10)
        notes = [
            e
            for e in Store(_copy_out(proc.pid, data, tmp_path)).incidents.timeline(1)
            if " note " in e.text
        ]
        assert len(notes) == len(answers) - len(refused)  # a refused command changed nothing
    finally:
        server.stop()


def _copy_out(pid: int, data: Path, tmp_path: Path) -> Path:
    """The database as the process sees it inside its own mount (SQLite itself would resolve
    /proc/PID/root to this namespace's empty directory)."""
    inside = Path(f"/proc/{pid}/root") / data.relative_to("/")
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("opsbot.db", "opsbot.db-wal"):
        if (inside / name).exists():
            shutil.copyfile(inside / name, copy / name)
    return copy / "opsbot.db"


def _healthz(server: Server) -> int:
    try:
        return HTTP.get(server.url + "/healthz", timeout=2).status_code
    except httpx.TransportError:
        return 0
