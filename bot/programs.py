"""The programs opsbot runs on the app's own files: git on the release checkout
(ROLLBACK_REPO), trusted as one checkout with safe.directory, and npm's JSON reports. Always
an argv list, a timeout and a clean environment; never a shell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from bot.redact import clean_env
from bot.replies import UserError

GIT_TIMEOUT = 20


def trusted(repo: Path) -> str:
    """git (2.35.2 on) refuses a checkout owned by another user ("detected dubious
    ownership"), as a release checkout mounted into the container or owned by the deploy user
    is. opsbot trusts the one checkout it is configured with, and only that one."""
    return str(Path(repo).resolve())


def git_argv(repo: Path, *args: str) -> list[str]:
    """Every git call opsbot makes on ROLLBACK_REPO: `-c safe.directory=` that checkout."""
    return ["git", "-c", f"safe.directory={trusted(repo)}", "-C", str(repo), *args]


def git_env(repo: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with the same trust for the git a rollback step runs (GIT_CONFIG_* entries,
    added after any the step was given)."""
    count = int(env["GIT_CONFIG_COUNT"]) if env.get("GIT_CONFIG_COUNT", "").isdigit() else 0
    return {
        **env,
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": "safe.directory",
        f"GIT_CONFIG_VALUE_{count}": trusted(repo),
    }


def git(repo: Path, *args: str) -> str:
    argv = git_argv(repo, *args)
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
    )
    if done.returncode != 0:
        raise UserError(
            f"git {args[0]} failed in the release checkout: {done.stderr.strip()[:200]}"
        )
    return done.stdout


def npm_json(directory: Path, *args: str) -> Any:
    done = subprocess.run(
        ["npm", *args, "--json"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
    )
    # npm outdated and npm audit exit 1 when they find something: that is an answer.
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"npm {args[0]} exited {done.returncode}")
    return json.loads(done.stdout)
