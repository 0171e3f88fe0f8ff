"""The console script's own behaviour: run-job, missing credentials, bad config."""

import os
import subprocess
import sys
from pathlib import Path

from bot.store import Change, Entry, Incident, Store
from bot.tools.localslack import LocalSlack
from tests.conftest import T0


def opsbot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**base, "PYTHONPATH": str(Path(__file__).parent.parent), **env},
    )


def unannounced_incident(db: Path) -> None:
    store = Store(db)
    store.migrate()
    draft = Incident(0, "Checkout down", "P0", "open", "U1", "U1", T0)
    store.incidents.open_incident(draft, Change(entries=(Entry(T0, "U1", "opened", "Opened"),)))


def test_run_job_dry_run_needs_no_workspace(tmp_path: Path) -> None:
    """A dry run says what it would do and posts nothing, without Slack credentials."""
    unannounced_incident(tmp_path / "opsbot.db")
    result = opsbot("run-job", "card-sync", "--dry-run", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Would post the card of INC-1."
    assert Store(tmp_path / "opsbot.db").incidents.incident(1).card_ts is None


def test_run_job_posts_for_real(tmp_path: Path) -> None:
    """run-job card-sync announces an incident that never got its card."""
    unannounced_incident(tmp_path / "opsbot.db")
    with LocalSlack() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-cli", "SLACK_API_URL": slack.api_base}
        result = opsbot("run-job", "card-sync", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Card of INC-1 queued for posting."
        [card] = slack.history("#incidents")
        assert "INC-1 P0 Critical: Checkout down" in card.text
    assert Store(tmp_path / "opsbot.db").incidents.incident(1).card_ts == card.ts


def test_unknown_job_and_missing_tokens_are_clear(tmp_path: Path) -> None:
    """Bad job names and missing tokens exit non-zero with one readable line."""
    unknown = opsbot("run-job", "nightly-everything", env={}, cwd=tmp_path)
    assert unknown.returncode == 2 and "invalid choice: 'nightly-everything'" in unknown.stderr
    no_token = opsbot("run-job", "card-sync", env={}, cwd=tmp_path)
    assert no_token.returncode == 2 and "SLACK_BOT_TOKEN must be set" in no_token.stderr
    socket = opsbot("serve", "--socket", env={"SLACK_BOT_TOKEN": "xoxb-x"}, cwd=tmp_path)
    assert socket.returncode == 2 and "SLACK_APP_TOKEN must be set" in socket.stderr


def test_rejected_token_is_reported_not_traced(tmp_path: Path) -> None:
    """A token Slack refuses stops serve with a message naming SLACK_BOT_TOKEN."""
    with LocalSlack(token_prefix="xoxb-good") as slack:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-revoked",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": slack.api_base,
        }
        result = opsbot("serve", "--host", "127.0.0.1", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN: Slack rejected it (invalid_auth)" in result.stderr
    assert "xoxb-revoked" not in result.stderr and "Traceback" not in result.stderr


def test_run_job_by_hand_is_recorded_dry_runs_say_so_and_a_month_can_be_chosen(
    tmp_path: Path,
) -> None:
    """`opsbot jobs` shows a run by hand; --dry-run says nothing was posted; the maintenance
    log of a chosen month posts on any day with --month."""
    dry = opsbot("run-job", "card-sync", "--dry-run", env={}, cwd=tmp_path)
    assert dry.stdout.strip().endswith("(dry run: nothing was posted or changed)")
    with LocalSlack() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-cli", "SLACK_API_URL": slack.api_base}
        ran = opsbot("run-job", "maintenance-log", "--month", "2026-10", env=env, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "Posted the maintenance log of October 2026."
        [posted] = slack.history("#incidents")  # the digest channel defaults to #incidents
        assert "```" in posted.text
        bad = opsbot("run-job", "card-sync", "--month", "2026-10", env=env, cwd=tmp_path)
        assert bad.returncode == 2 and "--month goes with maintenance-log only" in bad.stderr
        nonsense = opsbot("run-job", "maintenance-log", "--month", "Oct", env=env, cwd=tmp_path)
        assert nonsense.returncode == 2 and "is not a month like 2026-11" in nonsense.stderr
    listed = opsbot("jobs", env={}, cwd=tmp_path).stdout
    line = next(ln for ln in listed.splitlines() if ln.startswith("maintenance-log"))
    assert "ok by hand" in line and "last never" not in line


def test_db_backup_copies_the_live_database(tmp_path: Path) -> None:
    """`opsbot db backup PATH` makes a copy that opens with every incident; it never
    overwrites a file, and says so when there is no database."""
    unannounced_incident(tmp_path / "opsbot.db")
    done = opsbot("db", "backup", "copy.db", env={}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Copied opsbot.db to copy.db."
    assert Store(tmp_path / "copy.db").incidents.incident(1).title == "Checkout down"
    again = opsbot("db", "backup", "copy.db", env={}, cwd=tmp_path)
    assert again.returncode == 2 and "copy.db exists" in again.stderr
    (tmp_path / "dir").mkdir()
    assert opsbot("db", "backup", "dir", env={}, cwd=tmp_path).returncode == 0
    assert len(list((tmp_path / "dir").glob("opsbot-*.db"))) == 1
    missing = opsbot("db", "backup", "x.db", env={"OPSBOT_DB": "nope.db"}, cwd=tmp_path)
    assert missing.returncode == 2 and "no database at nope.db" in missing.stderr


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path: Path) -> None:
    """`opsbot jobs | head -1`, `opsbot doctor --json | head`: a closed pipe ends it quietly."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    for args in (["jobs"], ["doctor", "--json"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env={**base, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # before it writes a line: every write meets a closed pipe
        errors = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 1
        assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
