"""`opsbot shell` as a newcomer meets it: a real subprocess, commands typed on stdin."""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.store import Store

SCRIPT = """\
/incident open P1 Login broken
press 1
reply m1 Users report 500s on /login
react m3 pushpin
as bob
/incident update Rolled back the deploy
/incident resolve Reverted v1.4.2
/incident ack
/incident list all
run card-sync --dry-run
quit
"""


def run_shell(
    tmp_path: Path,
    script: str,
    args: tuple[str, ...] | None = None,
    env_extra: dict[str, str] | None = None,
) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    for name in ("MONGODB_URI", "PROMPTBASE_API_URL", "ROLLBACK_REPO", "BACKUP_DIR"):
        env.pop(name, None)
    env["OPSBOT_DB"] = str(tmp_path / "opsbot.db")
    env.update(env_extra or {})
    chosen = ("--db", str(tmp_path / "shell.db")) if args is None else args
    result = subprocess.run(
        [sys.executable, "-m", "bot", "shell", *chosen],
        input=script,
        text=True,
        capture_output=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_open_ack_pin_resolve_in_the_shell(tmp_path: Path) -> None:
    """The whole incident lifecycle works offline and reads well."""
    out = run_shell(tmp_path, SCRIPT)
    assert "▌🟠 INC-1 · P1 High · Login broken" in out
    assert "[1] Acknowledge  [2] Investigate" in out
    assert "Status: Acknowledged" in out
    assert "opsbot +:memo: on m3" in out  # the pinned reply was confirmed
    assert "# Post-mortem: INC-1 Login broken" in out
    assert "Subject: [RESOLVED] Service Disruption" in out
    assert "⚠️ No incident is open" in out  # ack after resolve is refused
    assert "card-sync: Every open incident has its card." in out
    store = Store(tmp_path / "shell.db")
    incident = store.incidents.incident(1)
    assert incident.status == "resolved" and incident.summary == "Reverted v1.4.2"
    timeline = store.incidents.timeline(1)
    assert [(e.actor, e.text) for e in timeline if e.kind == "pin"] == [
        ("U0YOU0001", "Users report 500s on /login")
    ]
    assert any(e.actor == "U0BOB0001" and e.kind == "update" for e in timeline)


def test_the_cards_forms_are_filled_in_line_by_line(tmp_path: Path) -> None:
    """Post update on the card: a form asked field by field, the radio buttons by number."""
    script = "/incident open P2 Search slow\npress m1 9\n3\nRolled back the index\n2\nquit\n"
    out = run_shell(tmp_path, script)
    assert "form: Post an update" in out and "Who sees it [internal]:" in out
    assert "Status: open → identified" in out
    assert "Public update: Rolled back the index" in out


def test_channels_shows_the_incidents_own_channel(tmp_path: Path) -> None:
    script = "/incident open P1 Login broken\nchannels\nquit\n"
    out = run_shell(tmp_path, script, env_extra={"INCIDENTS": '{"channel": "P0-P1"}'})
    assert "#inc-1-login-broken: @opsbot, @you" in out
    assert "  topic: P1 · Investigating · Commander @you" in out
    assert "  bookmark: INC-1 in #incidents <" in out and "  pinned: m2" in out


def test_shell_explains_what_it_does_not_know(tmp_path: Path) -> None:
    """Unknown words, commands and buttons get a hint, not a crash."""
    out = run_shell(
        tmp_path,
        "dance\n/deploy now\npress 9\n/incident help\n/incident opne P1 Login broken\n"
        "/incdent list\nincident list all\n",
    )
    assert "/incdent is not a command this bot knows. Did you mean `/incident`?" in out
    assert "Not a command: 'incident list all'. Did you mean `/incident list all`?" in out
    assert "Unknown subcommand `opne`. Did you mean `open`?" in out
    assert out.count("`ack [INC-n]`: acknowledge") == 1  # the whole help only when asked
    assert "Not a command: 'dance'" in out
    assert "/deploy is not a command this bot knows." in out and "HTTP 404" not in out
    assert "No button [9]." in out
    assert "*Usage:* `/incident <subcommand>`" in out


def test_no_input_ends_the_console(tmp_path: Path) -> None:
    """Bad input gets a one-line hint; the console goes on, and `press mK N` presses a
    button of any message."""
    script = "\n".join(
        [
            "/incident open P1 Login broken",
            "press m1 1",
            "press abc",
            "press m99 1",
            "react m11 'pushpin",
            "press m1 11",
            "/incident list",
            "quit",
            "",
        ]
    )
    out = run_shell(tmp_path, script)
    assert "Usage: press N, or press mK N" in out
    assert "No message m99." in out and "No button [11]." in out
    assert "Usage: react mN <emoji>" in out
    assert "acknowledged" in out.lower()  # press m1 1 pressed Acknowledge on the card
    assert out.count("INC-1") >= 3  # and it went on to the end


def test_the_shell_takes_requests_through_the_same_edge_as_serve(tmp_path: Path) -> None:
    """A command saying "payload" works in the shell as in Slack (one edge parses both)."""
    out = run_shell(tmp_path, "/incident open P1 payload-svc returns 502\nquit\n")
    assert "INC-1 opened as P1: payload-svc returns 502" in out
    assert "HTTP 404" not in out


def test_an_unacknowledged_p0_pages_after_its_target_in_the_shell(tmp_path: Path) -> None:
    """The shell runs the timers: `wait 16m` passes a P0's 15-minute target and the page
    fires; the card's countdown moves with the clock."""
    out = run_shell(tmp_path, "/incident open P0 Checkout down\nwait 16m\nwait 16\nquit\n")
    assert "(14 min left)" in out
    page = out.index("*Page:* INC-1 (P0) Checkout down: not acknowledged")
    assert out.index("INC-1 opened as P0") < page < out.index("(16m later:")
    assert "DM to @you" in out  # the person paged also gets a DM
    assert "target missed: ack overdue" in out
    assert out.count("· updated") <= 2  # a minute-by-minute refresh is shown once
    assert "Usage: wait N(m|h|d)" in out


def test_the_shell_keeps_its_own_data_apart_and_remembers_its_messages(tmp_path: Path) -> None:
    """By default the shell writes ./opsbot-shell.db, never OPSBOT_DB (a real bot's file); its
    messages come back at the next start, so the card is updated, not lost."""
    first = run_shell(tmp_path, "/incident open P1 Login broken\nquit\n", ())
    assert "INC-1 opened" in first
    assert (tmp_path / "opsbot-shell.db").exists()
    assert not (tmp_path / "opsbot.db").exists()
    script = "/incident ack INC-1\nrun incident-timers\nreact m1 eyes\nquit\n"
    again = run_shell(tmp_path, script, ())
    assert "INC-1 acknowledged" in again or "Acknowledged" in again
    assert "incident-timers:" in again
    assert "No message m1." not in again
    assert Store(tmp_path / "opsbot-shell.db").incidents.incident(1).status == "acknowledged"


def test_the_card_shown_by_show_has_its_buttons(tmp_path: Path) -> None:
    """`/incident show` is the card with its buttons: pressing one there works like on the card."""
    out = run_shell(
        tmp_path, "/incident open P2 Search slow\n/incident show INC-1\npress 1\nquit\n"
    )
    shown = out[out.index("opsbot (only you)", out.index("announcing in")) :]
    assert "[1] Acknowledge" in shown
    assert Store(tmp_path / "shell.db").incidents.incident(1).status == "acknowledged"


class Production:
    """Stands for the team's real systems: an HTTP server that records every request (the
    API, the login endpoint, PagerDuty, the notice webhook all point at it)."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_PATCH = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()


@pytest.fixture
def production(tmp_path: Path) -> Iterator[tuple[Production, dict[str, str]]]:
    """Real targets as a configured bot has them: env vars, a TOML file, a release checkout."""
    server = Production()
    checkout = tmp_path / "prompt-base"
    checkout.mkdir()
    for args in (
        ("init", "-q"),
        ("config", "user.email", "d@pb.test"),
        ("config", "user.name", "D"),
    ):
        subprocess.run(["git", "-C", str(checkout), *args], check=True)
    for tag in ("v1.0.0", "v2.0.0"):
        (checkout / "VERSION").write_text(tag)
        subprocess.run(["git", "-C", str(checkout), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(checkout), "commit", "-qm", tag], check=True)
        subprocess.run(["git", "-C", str(checkout), "tag", tag], check=True)
    deploy = f"import urllib.request; urllib.request.urlopen('{server.url}/deploy')"
    config = tmp_path / "opsbot.toml"
    config.write_text(
        f"""
[security]
public_urls = ["{server.url}/"]
rate_limit_url = "{server.url}/api/v1/auth/login"
rate_limit_hosts = ["127.0.0.1"]
rate_limit_burst = 5

[status_page]
notice_webhook = "{server.url}/notices"
auto_notice_minutes = 5

[oncall]
rotation = ["U0YOU0001"]
pagerduty_routing_key = "R0UTINGKEY0123456789012345678901"
pagerduty_url = "{server.url}"

[rollback]
allowed = ["U0REALPERSON"]
steps = [{{ name = "Deploy", argv = ["{sys.executable}", "-c", "{deploy}"] }}]
"""
    )
    env = {
        "OPSBOT_CONFIG": str(config),
        "PROMPTBASE_API_URL": server.url,
        "MONGODB_URI": "mongodb://127.0.0.1:9/promptbase?serverSelectionTimeoutMS=200",
        "ROLLBACK_REPO": str(checkout),
        "BACKUP_DIR": str(tmp_path / "real-backups"),
    }
    yield server, env
    server.server.shutdown()


def head(repo: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_console_touches_no_real_target_unless_asked(
    tmp_path: Path, production: tuple[Production, dict[str, str]]
) -> None:
    """With a real opsbot.env loaded, backups, rollbacks, probes, the security audit, pages
    and notices reach nothing outside the console; the banner and answers say so."""
    server, env = production
    real_head = head(Path(env["ROLLBACK_REPO"]))
    script = "\n".join(
        [
            "/health",
            "/backup run",
            "/health security",
            "/rollback list",
            "/rollback v1.1.0",
            "press 1",
            "/incident open P0 Checkout down",
            "wait 20m",
            "/incident public Checkout is down",
            "/incident notify",
            "quit",
            "",
        ]
    )
    out = run_shell(tmp_path, script, env_extra=env)
    assert server.seen == []
    assert head(Path(env["ROLLBACK_REPO"])) == real_head
    assert not (tmp_path / "real-backups").exists()
    assert "Nothing here reaches your systems" in out.splitlines()[1]
    assert "(MONGODB_URI: not configured in the console; `opsbot shell --real-targets`" in out
    assert "PROMPTBASE_API_URL and MONGODB_URI" in out or "MONGODB_URI and PROMPTBASE" in out
    assert "`v1.2.0` ← deployed now" in out and "v2.0.0" not in out  # the stand-in's tags
    stand_in = tmp_path / "shell.releases"
    described = subprocess.run(
        ["git", "-C", str(stand_in), "describe", "--tags"], capture_output=True, text=True
    )
    assert described.stdout.strip() == "v1.1.0"  # confirmed, and checked out there only
    assert "*Page:* INC-1 (P0) Checkout down" in out  # the page went to the local workspace


def test_real_targets_only_when_asked_and_said(
    tmp_path: Path, production: tuple[Production, dict[str, str]]
) -> None:
    """`opsbot shell --real-targets` uses the configured API and says so in its banner."""
    server, env = production
    del env["MONGODB_URI"]  # an unreachable server would only make the test wait
    out = run_shell(
        tmp_path, "/health api\nquit\n", ("--db", str(tmp_path / "s.db"), "--real-targets"), env
    )
    assert out.splitlines()[1].startswith("REAL TARGETS (--real-targets)")
    assert "(PROMPTBASE_API_URL)" in out and "(ROLLBACK_REPO)" in out
    assert "GET /api/v1/health" in server.seen


def test_the_moved_clock_survives_a_restart(tmp_path: Path) -> None:
    """`wait` moves the bot's clock; after a restart it stands where it was, so an incident
    opened an hour ahead is an hour old, not "59 min ago" from the future."""
    run_shell(tmp_path, "wait 1h\n/incident open P2 Search slow\nwait 1h\nquit\n")
    out = run_shell(tmp_path, "/incident list\nquit\n")
    assert "opened 1 h ago" in out, out


def test_forms_are_filled_in_line_by_line_and_a_wrong_field_is_asked_again(
    tmp_path: Path,
) -> None:
    """`/incident` alone opens the declare form; each field is asked in turn; an empty title
    is refused under its name and asked again. `shortcut mN declare` opens it filled with
    message mN; `cancel` closes a form and sends nothing."""
    script = "\n".join(
        [
            "/incident",
            "",  # title: none, refused
            "1",  # severity P0
            "Payments fail since 10:02",
            "n",
            "Checkout down",  # the title, asked again
            "reply m1 Card declined for every customer",
            "shortcut m3 declare",
            "Cards declined",
            "3",
            "",  # what is known: the message, kept
            "n",
            "/incident",
            "cancel",
            "/incident list",
        ]
    )
    out = run_shell(tmp_path, script + "\n", env_extra={"INCIDENTS": '{"channel": "P0-P1"}'})
    assert "┌─ form: Declare an incident" in out
    assert "│ [1] P0 Critical: respond within 15 min" in out
    assert "│ Title: An incident needs a title, e.g. Login broken." in out
    assert "INC-1 · P0 Critical · Checkout down" in out
    assert "#inc-1-checkout-down" in out  # a P0: its own channel
    assert "What is known [Card declined for every customer]" in out
    assert "INC-2 · P2 Medium · Cards declined" in out
    assert "(form closed; nothing was sent)" in out
    assert "INC-3" not in out
