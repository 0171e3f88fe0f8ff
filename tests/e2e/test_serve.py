"""`opsbot serve` driven over real HTTP exactly as Slack drives it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bot.store import Store
from bot.tools.localslack import (
    LocalSlack,
    block_action,
    reaction_event,
    signed_headers,
    slash_command,
)
from tests.e2e.conftest import SECRET, Server
from tests.helpers import HTTP

FORM = "application/x-www-form-urlencoded"
ALICE, BOB = "U0ALICE01", "U0BOB0001"


def incident(server: Server, text: str, user: str = ALICE) -> httpx.Response:
    body = slash_command(
        "/incident",
        text,
        user=user,
        user_name="alice",
        channel="C0CMD0001",
        response_url=server.workspace.response_url(),
    )
    return server.post(body, FORM)


def card(workspace: LocalSlack):
    [message] = [m for m in workspace.history("#incidents") if not m.thread_ts]
    return message


def thread(workspace: LocalSlack) -> list[str]:
    return [m.text for m in workspace.history("#incidents") if m.thread_ts]


def press(server: Server, action_id: str, user: str = BOB) -> httpx.Response:
    message = card(server.workspace)
    [button] = [
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]
    body = block_action(
        button, message, user=user, user_name="bob", response_url=server.workspace.response_url()
    )
    return server.post(body, FORM)


def wait_until(check, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_open_ack_resolve_end_to_end(server: Server) -> None:
    """Open P1, acknowledge by button, resolve: card, thread, timeline and post-mortem agree."""
    workspace = server.workspace
    answer = incident(server, "open P1 Login broken")
    assert answer.status_code == 200
    assert answer.json()["response_type"] == "ephemeral"
    assert "INC-1 opened as P1: Login broken" in answer.json()["text"]
    posted = workspace.wait_for("chat.postMessage")[0]
    assert posted["channel"] == "#incidents"
    assert "INC-1 P1 High: Login broken" in posted["text"]
    # the card is recorded on the timeline once Slack has it: press after that, as a person
    # who saw the card would
    wait_until(lambda: Store(server.db).incidents.incident(1).card_ts)

    assert press(server, "incident.ack").status_code == 200
    wait_until(lambda: "(acknowledged)" in card(workspace).text)
    wait_until(lambda: any("Acknowledged after" in t for t in thread(workspace)))

    answer = incident(server, "resolve INC-1 Reverted v1.4.2")
    assert "INC-1: resolved" in answer.json()["text"]
    upload = wait_until(lambda: [m for m in workspace.history("#incidents") if m.files])[0]
    assert upload.thread_ts == card(workspace).ts
    assert upload.files[0]["name"] == "INC-1-postmortem.md"
    assert upload.files[0]["content"].startswith("# Post-mortem: INC-1 Login broken")
    assert "(resolved)" in card(workspace).text

    store = Store(server.db)
    stored = store.incidents.incident(1)
    assert stored.status == "resolved" and stored.acked_by == BOB
    assert stored.summary == "Reverted v1.4.2"
    kinds = [e.kind for e in store.incidents.timeline(1)]
    assert kinds[:3] == ["opened", "post", "acknowledge"] and "resolve" in kinds
    postmortem = store.followups.postmortem(1)
    assert "## Response steps" in postmortem.markdown
    assert "### 1. [x] Acknowledge" in postmortem.markdown
    acked = next(e for e in store.incidents.timeline(1) if e.kind == "acknowledge")
    step = postmortem.markdown.split("### 1.")[1].split("### 2.")[0]
    assert f"`{acked.at:%Y-%m-%d %H:%M} UTC` @{BOB} · Acknowledged after" in step
    assert postmortem.markdown == upload.files[0]["content"]
    assert "[RESOLVED] Service Disruption" in postmortem.notice


def test_bad_input_gets_usage_and_changes_nothing(server: Server) -> None:
    """A missing title and an unknown id are answered with usage; nothing is stored or posted."""
    for text in ("open", "open P9 Down", "ack INC-7", "frobnicate"):
        answer = incident(server, text)
        assert answer.status_code == 200
        assert answer.json()["response_type"] == "ephemeral"
        assert answer.json()["text"].startswith(":warning:")
    assert Store(server.db).incidents.find(open_only=False) == []
    assert server.workspace.methods("chat.postMessage") == []


def test_unsigned_or_stale_requests_are_refused(server: Server) -> None:
    """No signature, a wrong one, or one older than 5 minutes: 401 and no effect."""
    body = slash_command(
        "/incident",
        "open P0 Forged",
        user=ALICE,
        user_name="alice",
        channel="C0CMD0001",
        response_url=server.workspace.response_url(),
    )
    attempts = [
        server.post(body, FORM, headers={}),
        server.post(body, FORM, secret="not-the-secret"),
        server.post(body, FORM, timestamp=int(time.time()) - 6 * 60),
    ]
    assert [a.status_code for a in attempts] == [401, 401, 401]
    time.sleep(0.2)
    assert Store(server.db).incidents.find(open_only=False) == []
    assert server.workspace.methods("chat.postMessage") == []


def test_retried_event_has_one_effect(server: Server) -> None:
    """A :pushpin: event delivered again with X-Slack-Retry-Num adds one timeline entry."""
    workspace = server.workspace
    incident(server, "open P2 Search slow")
    root = wait_until(lambda: workspace.history("#incidents"))[0]
    wait_until(lambda: Store(server.db).incidents.incident(1).card_ts)
    said = workspace.post(root.channel, BOB, "Index rebuild started", thread_ts=root.ts)
    workspace.react(said, ALICE, "pushpin")
    body = reaction_event(said, user=ALICE, name="pushpin", added=True, event_id="Ev0RETRY1")
    first = server.post(body, "application/json")
    retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    retry = server.post(
        body, "application/json", headers={**signed_headers(body, SECRET), **retry_headers}
    )
    assert (first.status_code, retry.status_code) == (200, 200)
    workspace.wait_for("reactions.add")
    time.sleep(0.3)
    pins = [e for e in Store(server.db).incidents.timeline(1) if e.kind == "pin"]
    assert [(p.actor, p.text) for p in pins] == [(BOB, "Index rebuild started")]
    assert pins[0].at.timestamp() == float(said.ts)  # the message's own time
    assert len(workspace.methods("reactions.add")) == 1

    own = workspace.post(root.channel, "U0OPSBOT", "opsbot · Acknowledged", thread_ts=root.ts)
    workspace.react(own, ALICE, "pushpin")  # the bot's own posts are on the timeline already
    body = reaction_event(own, user=ALICE, name="pushpin", added=True)
    assert server.post(body, "application/json").status_code == 200

    workspace.react(said, ALICE, "pushpin", add=False)  # unpinning takes it off again
    body = reaction_event(said, user=ALICE, name="pushpin", added=False, event_id="Ev0UNPIN1")
    assert server.post(body, "application/json").status_code == 200
    workspace.wait_for("reactions.remove")
    assert [e for e in Store(server.db).incidents.timeline(1) if e.kind == "pin"] == []
    assert "memo" not in said.reactions


def test_hard_kill_right_after_open_loses_nothing(server: Server) -> None:
    """SIGKILL after the answer, before the card: the incident survives and is announced."""
    workspace = server.workspace
    workspace.fault(method="chat.postMessage", status=503)  # Slack is down: no card is posted
    answer = incident(server, "open P0 Checkout down")
    server.kill()
    assert "INC-1 opened" in answer.json()["text"]
    stored = Store(server.db).incidents.incident(1)
    assert (stored.title, stored.severity, stored.card_ts) == ("Checkout down", "P0", None)

    workspace.clear_faults()  # Slack is back; the bot restarts
    server.start()
    # A post the killed process had in flight is given the call's timeout to land first.
    wait_until(lambda: Store(server.db).incidents.incident(1).card_ts, timeout=20)
    assert "INC-1 P0 Critical: Checkout down" in card(workspace).text


def test_healthz_reports_store_scheduler_version(server: Server) -> None:
    """GET /healthz is a small JSON status of the bot itself."""
    answer = HTTP.get(server.url + "/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["store"] == "ok" and body["scheduler"] == "running"
    assert body["version"]
    # the one serve of its database leads it, under the lease it took at start
    assert body["role"] == "leader" and body["engine"] in ("sqlite", "postgresql")
    assert body["lease"]["held"] and body["lease"]["token"] >= 1
    assert server.proc is not None
    assert body["lease"]["holder"].split(":")[1] == str(server.proc.pid)
    assert HTTP.get(server.url + "/nope").status_code == 404


def test_button_error_is_shown_to_the_presser_only(server: Server) -> None:
    """Pressing Acknowledge twice: the second presser is told, ephemerally; one ack stored."""
    incident(server, "open P1 Login broken")
    wait_until(lambda: Store(server.db).incidents.incident(1).card_ts)
    press(server, "incident.ack", user=BOB)
    wait_until(lambda: Store(server.db).incidents.incident(1).acked_by)
    assert press(server, "incident.ack", user=ALICE).status_code == 200
    responses = server.workspace.wait_for_responses(1)
    assert "already acknowledged" in responses[-1]["text"]
    assert responses[-1]["response_type"] == "ephemeral"
    assert responses[-1]["replace_original"] in (False, "false")
    assert Store(server.db).incidents.incident(1).acked_by == BOB


def test_secrets_do_not_reach_the_log(server: Server) -> None:
    """The bot token and signing secret never appear in what serve logs."""
    incident(server, "open P1 Login broken")
    incident(server, "open")
    server.stop()
    log = server.log.read_text()
    assert "xoxb-e2e-token" not in log and SECRET not in log


def test_serving_line_is_printed_not_a_warning(server: Server) -> None:
    """The start-up line is news, not a problem: printed, and logged at INFO only."""
    wait_until(lambda: "serving /slack/events" in server.log.read_text())
    [line] = [ln for ln in server.log.read_text().splitlines() if "serving /slack" in ln]
    assert line.startswith("opsbot ") and "WARNING" not in line


def test_serve_checks_its_setup_at_start_and_the_home_tab_says_what_to_fix(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """A ROLLBACK_REPO that is no git checkout: one log line at start, and the App Home
    names it with the fix."""
    import json

    (tmp_path / "not-a-repo").mkdir()
    env = {"ROLLBACK_REPO": str(tmp_path / "not-a-repo")}
    server = Server(workspace, tmp_path / "opsbot.db", tmp_path / "serve.log", env=env).start()
    try:
        event = json.dumps(
            {
                "type": "event_callback",
                "event_id": "EvHOME2",
                "team_id": "T0",
                "api_app_id": "A0",
                "event": {"type": "app_home_opened", "user": "U0ALICE01", "tab": "home"},
            }
        )
        assert server.post(event, "application/json").status_code == 200
        [call] = workspace.wait_for("views.publish", timeout=10)
    finally:
        server.stop()
    log = server.log.read_text()
    assert "setup: release checkout:" in log and "is not a git checkout" in log
    view = json.dumps(call["view"])
    assert "Setup problems found at start" in view and "is not a git checkout" in view


def test_serve_catches_up_what_fell_due_while_it_was_down(
    workspace: LocalSlack, tmp_path: Path
) -> None:
    """Installed three days ago and down since: at start `opsbot serve` runs the nightly
    backup that fell due an hour ago and says, once, that the two before it did not run."""
    from datetime import UTC, datetime, timedelta

    from jobs import INSTALLED_KEY

    now = datetime.now(UTC)
    due = now - timedelta(hours=1)
    store = Store(tmp_path / "opsbot.db")
    store.migrate()
    store.set_state(INSTALLED_KEY, (now - timedelta(days=3)).isoformat())
    config = tmp_path / "opsbot.toml"
    config.write_text(f'[backup]\nnightly_time = "{due:%H:%M}"\n')
    env = {"OPSBOT_CONFIG": str(config), "BACKUP_DIR": str(tmp_path / "backups")}
    server = Server(workspace, tmp_path / "opsbot.db", tmp_path / "serve.log", env=env).start()
    try:
        notice = wait_until(
            lambda: next(
                (m.text for m in workspace.history("#incidents") if "did not run" in m.text),
                None,
            ),
            timeout=20,
        )
        runs = wait_until(
            lambda: [
                r
                for r in Store(tmp_path / "opsbot.db").jobs.job_runs("backup-nightly")
                if r.status == "ok"
            ],
            timeout=20,
        )
    finally:
        server.stop()
    assert "`backup-nightly` due 2 times" in notice
    [caught_up] = runs
    assert caught_up.scheduled_for.strftime("%Y-%m-%dT%H:%M") == due.strftime("%Y-%m-%dT%H:%M")
    assert list((tmp_path / "backups").glob("opsbot-db-*"))  # it really ran


def test_sigterm_ends_serve_promptly_and_cleanly(server: Server) -> None:
    """docker stop sends SIGTERM: the bot leaves within its grace period with exit code 0."""
    assert server.proc is not None
    began = time.monotonic()
    server.proc.terminate()
    assert server.proc.wait(15) == 0
    assert time.monotonic() - began < 10
