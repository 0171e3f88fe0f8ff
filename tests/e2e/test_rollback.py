"""/rollback through the serve stack against a real git repository and real step scripts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.tools.localslack import LocalSlack, Message
from commands.rollback.releases import releases
from tests.conftest import Clock
from tests.e2e.stack import Stack
from tests.e2e.test_serve import wait_until

ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
TAGS = ["v1.0.0", "v1.2.0", "v1.9.0", "v1.10.0-rc.1", "v1.10.0-rc.2", "v1.10.0"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    checkout = tmp_path / "prompt-base"
    checkout.mkdir()
    git(checkout, "init", "-q")
    git(checkout, "config", "user.email", "dev@pb.test")
    git(checkout, "config", "user.name", "Dev")
    (checkout / "backend").mkdir()
    for tag in TAGS:
        (checkout / "VERSION").write_text(tag)
        git(checkout, "add", "-A")
        git(checkout, "commit", "-q", "-m", f"Release {tag}")
        git(checkout, "tag", tag)
    git(checkout, "tag", "nightly")  # not a release
    return checkout


def steps(tmp_path: Path, fail: bool = False) -> list[dict[str, Any]]:
    """The checkout is real git; the build step is a real script writing what it saw."""
    build = (
        "import pathlib, sys; v = pathlib.Path('../VERSION').read_text(); "
        f"pathlib.Path({str(tmp_path / 'built')!r}).write_text(v); print('built', v)"
    )
    failing = (
        "import sys; [print('npm ERR! line', i) for i in range(40)]; "
        "print('token=mongodb://admin:hunter2@db'); sys.exit(3)"
    )
    return [
        {"name": "Check out the release", "argv": ["git", "checkout", "-q", "--detach", "{tag}"]},
        {
            "name": "Backend: build",
            "argv": [sys.executable, "-c", failing if fail else build],
            "cwd": "backend",
            "timeout_seconds": 30,
        },
        {"name": "Backend: restart", "argv": [sys.executable, "-c", "print('restarted')"]},
    ]


def make_stack(
    tmp_path: Path,
    slack: LocalSlack,
    repo: Path,
    fail: bool = False,
    only: list[dict[str, Any]] | None = None,
) -> Stack:
    """Alice and Bob may roll back; the steps above, or `only` these."""
    return Stack(
        slack,
        tmp_path / "opsbot.db",
        Clock(datetime.now(UTC)),
        rollback_repo=repo,
        rollback={"allowed": [ALICE, BOB], "steps": only or steps(tmp_path, fail)},
    )


@pytest.fixture
def stack(tmp_path: Path, repo: Path) -> Iterator[Stack]:
    with LocalSlack() as slack:
        running = make_stack(tmp_path, slack, repo)
        yield running
        running.stop()


def rollback(stack: Stack, text: str, user: str = ALICE) -> dict[str, Any]:
    answer = stack.command(text, user=user, name="/rollback")
    assert answer.status_code == 200
    return dict(answer.json())


def answer(stack: Stack, marker: str) -> str:
    return str(
        wait_until(
            lambda: next(
                (r["text"] for r in reversed(stack.slack.responses) if marker in r.get("text", "")),
                None,
            ),
            timeout=15,
        )
    )


def failure_tail(slack: LocalSlack) -> str:
    """The message with the failing step's last lines."""
    return str(
        wait_until(
            lambda: next(
                (m.text for m in slack.history("#incidents") if "Last lines" in m.text), None
            ),
            timeout=20,
        )
    )


def preview_message(stack: Stack) -> Message:
    """The preview, which becomes the progress message once confirmed."""
    marks = ("Roll back to", "Rolling back to", "Rolled back to", "Rollback to `")
    return wait_until(
        lambda: next(
            (m for m in stack.slack.history("#incidents") if any(k in m.text for k in marks)), None
        )
    )


def press(stack: Stack, label: str, user: str) -> None:
    message = preview_message(stack)
    button = next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"].startswith(label)
    )
    stack.press(button, message, user=user)


def test_releases_sort_by_semver(repo: Path) -> None:
    """v1.10.0 after v1.9.0, release candidates between; non-version tags left out."""
    assert releases(repo) == [
        "v1.10.0",
        "v1.10.0-rc.2",
        "v1.10.0-rc.1",
        "v1.9.0",
        "v1.2.0",
        "v1.0.0",
    ]


def test_list_preview_refusal_and_a_confirmed_run(stack: Stack, repo: Path, tmp_path: Path) -> None:
    """List, dry-run preview, refusal of a stranger, confirm, steps run and are reported."""
    rollback(stack, "list")
    listing = answer(stack, "Latest releases")
    assert listing.index("v1.10.0") < listing.index("v1.9.0") and "← deployed now" in listing

    rollback(stack, "v1.9.0 --dry-run", user=CAROL)  # anyone may look
    dry = answer(stack, "Dry run")
    assert "Roll back to `v1.9.0`" in dry and "Release v1.10.0" in dry

    assert (
        "Only <@U0ALICE01>, <@U0BOB0001> may roll back"
        in rollback(stack, "v1.9.0", user=CAROL)["text"]
    )
    rollback(stack, "v1.9.0")
    answer(stack, "waiting for confirmation")
    press(stack, "Roll back to", CAROL)  # a stranger's click changes nothing
    assert "may roll back" in answer(stack, "may roll back")
    press(stack, "Roll back to", ALICE)
    wait_until(lambda: "Rolled back to `v1.9.0`" in preview_message(stack).text, timeout=20)
    text = preview_message(stack).text
    assert "✅ Check out the release" in text and "✅ Backend: build" in text
    assert (tmp_path / "built").read_text() == "v1.9.0"
    assert git(repo, "describe", "--tags").strip() == "v1.9.0"
    health = wait_until(
        lambda: [
            m.text
            for m in stack.slack.history("#incidents")
            if "Health after the rollback" in m.text
        ]
    )
    assert health


def test_failing_step_stops_with_its_output_tail(tmp_path: Path, repo: Path) -> None:
    """The build fails: later steps never run; the last 30 lines are posted, redacted."""
    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, repo, fail=True)
        try:
            rollback(stack, "v1.2.0")
            answer(stack, "waiting for confirmation")
            press(stack, "Roll back to", BOB)
            tail = wait_until(
                lambda: next(
                    (
                        m.text
                        for m in slack.history("#incidents")
                        if "Last lines of the failing step" in m.text
                    ),
                    None,
                ),
                timeout=20,
            )
            card = preview_message(stack).text
        finally:
            stack.stop()
    assert "❌ Backend: build" in card and "○ Backend: restart" in card
    assert "npm ERR! line 39" in tail and "npm ERR! line 9\n" not in tail
    assert "(exit code 3)" in tail and "hunter2" not in tail and "token=***" in tail


@pytest.mark.parametrize(
    "attempt",
    [
        "v1.0.0;touch x",
        "$(touch x)",
        "--upload-pack=touch x",
        "v1.0.0 && touch x",
        "`touch x`",
        "nightly",
    ],
)
def test_injection_attempts_run_nothing(stack: Stack, repo: Path, attempt: str) -> None:
    """Anything that is not exactly a release tag is refused before anything runs."""
    acked = rollback(stack, attempt)["text"]
    refusal = (
        acked
        if acked.startswith(":warning:")
        else wait_until(
            lambda: next(
                (r["text"] for r in stack.slack.responses if ":warning:" in r.get("text", "")), None
            ),
            timeout=10,
        )
    )
    assert "not a release tag" in refusal or "Name one release tag" in refusal
    assert not (repo / "x").exists() and not Path("x").exists()
    assert stack.deps.store.rollbacks.find() == []


def test_second_rollback_while_one_runs_is_refused(stack: Stack) -> None:
    """The lock: one running rollback means the next confirm is refused."""
    first = stack.deps.store.rollbacks.add_rollback(
        {"tag": "v1.0.0", "status": "running", "approvals": "[]", "steps": "[]"}
    )
    rollback(stack, "v1.2.0")
    answer(stack, "waiting for confirmation")
    press(stack, "Roll back to", ALICE)
    refused = answer(stack, "already running")
    assert f"R{first}" in refused


def test_p0_needs_two_people(stack: Stack) -> None:
    """Linked to a P0, one confirmation is not enough; a second allowed person starts it."""
    stack.command("open P0 Checkout down")
    wait_until(
        lambda: (
            stack.deps.store.incidents.incident(1)
            and stack.deps.store.incidents.incident(1).card_ts
        )
    )
    rollback(stack, "v1.9.0 INC-1")
    answer(stack, "waiting for confirmation")
    press(stack, "Roll back to", ALICE)
    assert "a second allowed person must confirm" in answer(stack, "second allowed person")
    press(stack, "Roll back to", ALICE)
    assert "You confirmed already" in answer(stack, "confirmed already")
    press(stack, "Roll back to", BOB)
    wait_until(lambda: "Rolled back to `v1.9.0`" in preview_message(stack).text, timeout=20)
    notes = [e.text for e in stack.deps.store.incidents.timeline(1) if e.kind == "rollback"]
    assert notes[0].startswith("Rollback R1 to v1.9.0 proposed")
    assert any("started, confirmed by <@U0ALICE01>, <@U0BOB0001>" in n for n in notes)
    wait_until(
        lambda: any("done; health" in e.text for e in stack.deps.store.incidents.timeline(1))
    )


def test_mark_records_the_deploy_and_its_backup_for_the_restore_step(
    tmp_path: Path, repo: Path
) -> None:
    """mark takes a pre-deployment backup and records the release; a rollback with
    restore_database restores exactly that backup after the steps."""
    import mongomock

    from tests.test_backup import seed

    client = mongomock.MongoClient()
    seed(client)
    with LocalSlack() as slack:
        stack = Stack(
            slack,
            tmp_path / "opsbot.db",
            Clock(datetime.now(UTC)),
            rollback_repo=repo,
            mongo=lambda: client,
            backup_dir=tmp_path / "backups",
            backup={"restore_allowed": [ALICE]},
            rollback={
                "allowed": [ALICE],
                "current": "recorded",
                "restore_database": True,
                "steps": steps(tmp_path)[:1],
            },
        )
        try:
            rollback(stack, "mark v1.10.0")
            assert "Pre-deployment backup: B1" in answer(stack, "recorded")
            client.promptbase.feedback.insert_many([{"type": "after deploy"} for _ in range(5)])
            rollback(stack, "list")
            assert "`v1.10.0` ← deployed now" in answer(stack, "Latest releases")
            rollback(stack, "v1.9.0")
            answer(stack, "waiting for confirmation")
            press(stack, "Roll back to", ALICE)
            wait_until(lambda: "Rolled back to `v1.9.0`" in preview_message(stack).text, timeout=20)
            assert "✅ Database: restore the pre-deployment backup" in preview_message(stack).text
            wait_until(
                lambda: [
                    m for m in slack.history("#incidents") if "Health after the rollback" in m.text
                ],
                timeout=20,
            )
        finally:
            stack.stop()
    assert client.promptbase.feedback.count_documents({}) == 9


def test_a_failing_step_never_posts_the_bots_secrets(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that dumps its environment and prints secrets: it never had the bot's settings,
    and what it printed reaches Slack masked."""
    token = "xoxb-5555555555-4444444444-ZyXwVuTsRqPoNmLk"
    monkeypatch.setenv("SLACK_BOT_TOKEN", token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-abc123")
    leaky = (
        "import os, sys; print(sorted(os.environ)); print('token=' + 'xoxb-1111-2222-abcdefgh'); "
        "print('AKIAIOSFODNN7EXAMPLE'); print('mongodb://admin:Sup@rSecretPw3@h/db'); sys.exit(3)"
    )
    with LocalSlack() as slack:
        stack = make_stack(
            tmp_path, slack, repo, only=[{"name": "Leak", "argv": [sys.executable, "-c", leaky]}]
        )
        try:
            rollback(stack, "v1.2.0")
            answer(stack, "waiting for confirmation")
            press(stack, "Roll back to", BOB)
            tail = failure_tail(slack)
        finally:
            stack.stop()
    assert "SLACK_BOT_TOKEN" not in tail and "SLACK_SIGNING_SECRET" not in tail
    for secret in (token, "1111-2222-abcdefgh", "IOSFODNN7EXAMPLE", "SecretPw3"):
        assert secret not in tail
    assert "(exit code 3)" in tail


def test_a_step_that_times_out_takes_its_children_with_it(tmp_path: Path, repo: Path) -> None:
    """A step that started a child (npm -> node) and overran: the whole process group is
    stopped, no child is left running."""
    import psutil

    marker = f"opsbot-orphan-{tmp_path.name}"

    def alive() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter():
            try:
                if marker in " ".join(process.cmdline()):
                    found.append(process)
            except psutil.Error:
                continue
        return found

    spawner = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}']); "
        "time.sleep(60)"
    )
    with LocalSlack() as slack:
        slow = {"name": "Slow", "argv": [sys.executable, "-c", spawner], "timeout_seconds": 2}
        stack = make_stack(tmp_path, slack, repo, only=[slow])
        try:
            rollback(stack, "v1.2.0")
            answer(stack, "waiting for confirmation")
            press(stack, "Roll back to", BOB)
            wait_until(alive, timeout=10)
            tail = failure_tail(slack)
        finally:
            stack.stop()

    assert "(stopped after 2 s)" in tail
    wait_until(lambda: not alive(), timeout=5)


def test_an_error_mid_run_ends_it_failed_and_frees_the_lock(tmp_path: Path, repo: Path) -> None:
    """Slack refuses every progress update, and the tag is gone by the time it is confirmed:
    the rollback ends 'failed' and says so in its thread, and the next one may run."""
    with LocalSlack() as slack:
        stack = make_stack(tmp_path, slack, repo)
        try:
            rollback(stack, "v1.2.0")
            answer(stack, "waiting for confirmation")
            slack.fault(method="chat.update", error="internal_error")
            git(repo, "tag", "-d", "v1.2.0")
            press(stack, "Roll back to", BOB)
            said = wait_until(
                lambda: [m.text for m in slack.history("#incidents") if "stopped:" in m.text],
                timeout=15,
            )
            assert said[0].startswith(":x: R1 stopped:")
            assert stack.deps.store.rollbacks.rollback(1).status == "failed"  # type: ignore[union-attr]
            assert stack.deps.store.rollbacks.find("running") == []
        finally:
            stack.stop()


def test_two_people_confirming_at_once_both_count(stack: Stack) -> None:
    """Two allowed people press Confirm at the same moment: both confirmations are kept."""
    import threading

    from commands.rollback import service

    rollback(stack, "v1.2.0")
    answer(stack, "waiting for confirmation")
    start = threading.Barrier(2)
    results: list[bool] = []

    def confirm(user: str) -> None:
        start.wait()
        results.append(service.approve(stack.deps, 1, user, needed=3)[1])

    threads = [threading.Thread(target=confirm, args=(u,)) for u in (ALICE, BOB)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stack.deps.store.rollbacks.rollback(1).approvals) == sorted([ALICE, BOB])  # type: ignore[union-attr]


def test_a_newer_target_is_a_roll_forward_and_says_what_it_adds(stack: Stack, repo: Path) -> None:
    """With v1.9.0 deployed, `/rollback v1.10.0` would undo nothing: it is refused as a
    roll-forward that names what it adds, unless asked for with --forward."""
    rollback(stack, "v1.10.0")
    assert "is the release deployed now" in answer(stack, "deployed now: there is nothing")
    git(repo, "checkout", "-q", "--detach", "v1.9.0")
    rollback(stack, "v1.10.0")
    refused = answer(stack, "roll-forward")
    assert "`v1.10.0` is newer than the deployed `v1.9.0`" in refused
    assert "Release v1.10.0" in refused and "`/rollback v1.10.0 --forward`" in refused
    assert stack.deps.store.rollbacks.rollback(1) is None  # nothing was requested
    rollback(stack, "v1.10.0 --forward --dry-run")
    dry = answer(stack, "Dry run")
    assert "Roll forward to `v1.10.0`" in dry and "this adds" in dry
    assert "Release v1.10.0" in dry and "  • nothing" not in dry


def test_missing_setup_and_permissions_are_said_plainly(tmp_path: Path, repo: Path) -> None:
    """No ROLLBACK_REPO: that is said first (no permission would make it work); nobody allowed:
    how to allow someone; `mark` asks for leave to record a deploy, not to roll back."""
    with LocalSlack() as slack:
        bare = Stack(slack, tmp_path / "a.db", Clock(datetime.now(UTC)))
        try:
            unset = rollback(bare, "v1.9.0")["text"]
        finally:
            bare.stop()
        nobody = Stack(slack, tmp_path / "b.db", Clock(datetime.now(UTC)), rollback_repo=repo)
        try:
            refused = rollback(nobody, "v1.9.0")["text"]
        finally:
            nobody.stop()
        running = make_stack(tmp_path, slack, repo)
        try:
            marked = rollback(running, "mark v1.9.0", user=CAROL)["text"]
        finally:
            running.stop()
    assert "ROLLBACK_REPO is not set" in unset
    assert "Nobody may roll back yet" in refused and "`rollback.allowed`" in refused
    assert "may record a deploy" in marked and "may roll back" not in marked
