"""What stands in for the real world in the shell: the teammates, a release checkout with
three tags, and settings that leave out every real target unless `--real-targets` is given."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bot.config import RollbackStep, Settings
from bot.redact import clean_env

TEAM = {"you": "U0YOU0001", "alice": "U0ALICE01", "bob": "U0BOB0001", "carol": "U0CAROL01"}


# What reaches someone's real systems, by the setting that names it. The console leaves
# each one out unless asked (`opsbot shell --real-targets`).
REAL_TARGETS = {
    "MONGODB_URI": "MongoDB (/backup, /health mongodb, the database review)",
    "PROMPTBASE_API_URL": "the Prompt-Base API (/health api and traffic, digests)",
    "ROLLBACK_REPO": "the release checkout and its rollback steps (/rollback)",
    "security.public_urls": "the security audit's header checks",
    "security.rate_limit_url": "the security audit's burst of requests at a login endpoint",
    "oncall.pagerduty_routing_key": "PagerDuty pages",
    "status_page.statuspage_api_key": "Atlassian Statuspage",
    "status_page.notice_webhook": "user notices",
    "self_heartbeat_url": "opsbot's own heartbeat",
    "backup.offsite_dir": "off-site copies of backups",
    "backup.offsite_command": "off-site copies of backups",
}
NOT_HERE = "not configured in the console; `opsbot shell --real-targets` uses yours"


def configured_targets(settings: Settings) -> list[str]:
    """The settings above that this configuration sets (names only, never values)."""
    values = {
        "MONGODB_URI": settings.mongodb_uri,
        "PROMPTBASE_API_URL": settings.promptbase_api_url,
        "ROLLBACK_REPO": settings.rollback_repo,
        "security.public_urls": settings.security.public_urls,
        "security.rate_limit_url": settings.security.rate_limit_url,
        "oncall.pagerduty_routing_key": settings.oncall.pagerduty_routing_key,
        "status_page.statuspage_api_key": settings.status_page.statuspage_api_key,
        "status_page.notice_webhook": settings.status_page.notice_webhook,
        "self_heartbeat_url": settings.self_heartbeat_url,
        "backup.offsite_dir": settings.backup.offsite_dir,
        "backup.offsite_command": settings.backup.offsite_command,
    }
    return [name for name, value in values.items() if value]


def releases_file(db: Path) -> Path:
    """The console's stand-in release checkout, beside its database."""
    return db.with_name(db.stem + ".releases")


STAND_IN_RELEASES = ("v1.0.0", "v1.1.0", "v1.2.0")


def stand_in_checkout(folder: Path) -> Path | None:
    """A small git repository with three release tags, HEAD on the newest: what `/rollback`
    reads and checks out in the console. None when git is not installed or fails."""
    if (folder / ".git").is_dir():
        return folder
    if shutil.which("git") is None:
        return None
    env = {
        **clean_env(),
        "GIT_AUTHOR_NAME": "opsbot shell",
        "GIT_AUTHOR_EMAIL": "shell@opsbot.invalid",
        "GIT_COMMITTER_NAME": "opsbot shell",
        "GIT_COMMITTER_EMAIL": "shell@opsbot.invalid",
    }

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(folder), *args],
            check=True,
            capture_output=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    try:
        folder.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet")
        for tag in STAND_IN_RELEASES:
            (folder / "VERSION").write_text(tag + "\n")
            git("add", "VERSION")
            git("commit", "--quiet", "-m", f"Release {tag}")
            git("tag", tag)
    except (OSError, subprocess.SubprocessError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return folder


def console_settings(settings: Settings, db: Path, real_targets: bool) -> Settings:
    """The shell's settings: its own database always; the real targets only when asked.
    Otherwise backups go to a folder beside the database, `/rollback` works on a stand-in
    checkout (its only step checks the tag out there; the console's teammates may roll
    back), and everything that would reach Prompt-Base or a third party is left out."""
    own = settings.model_copy(update={"opsbot_db": db})
    if real_targets:
        return own
    checkout = stand_in_checkout(releases_file(db))
    rollback = settings.rollback.model_copy(
        update={
            "allowed": list(TEAM.values()),
            "current": "head",
            "restore_database": False,
            "steps": [
                RollbackStep(
                    name="Check out the release", argv=["git", "checkout", "--detach", "{tag}"]
                )
            ],
        }
    )
    return own.model_copy(
        update={
            "mongodb_uri": None,
            "promptbase_api_url": None,
            "rollback_repo": checkout,
            "backup_dir": db.with_name(db.stem + ".backups"),
            "self_heartbeat_url": None,
            "rollback": rollback,
            "backup": settings.backup.model_copy(
                update={"offsite_dir": None, "offsite_command": []}
            ),
            "security": settings.security.model_copy(
                update={"public_urls": [], "rate_limit_url": None, "rate_limit_hosts": []}
            ),
            "oncall": settings.oncall.model_copy(update={"pagerduty_routing_key": None}),
            "status_page": settings.status_page.model_copy(
                update={
                    "statuspage_api_key": None,
                    "statuspage_page_id": None,
                    "notice_webhook": None,
                }
            ),
        }
    )
