"""A release checkout owned by another user (a volume mounted into the container, the deploy
user's checkout) is read and rolled back as git >= 2.35.2 allows only when trusted; the
doctor says whether git accepts it and whether ssh knows the hosts the rollback reaches."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.config import Rollback, RollbackStep, Settings
from bot.deps import Deps
from bot.programs import git_env
from commands.rollback import releases, service
from tests.test_doctor import doctor, failed
from tests.test_doctor import slack as slack  # noqa: F401  (the fixture)

OTHER_UID = 12345
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder away needs root")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", f"safe.directory={repo.resolve()}", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def make_checkout(folder: Path, owner: int | None = None) -> Path:
    folder.mkdir()
    git(folder, "init", "-q")
    for tag in ("v1.0.0", "v1.1.0"):
        (folder / "VERSION").write_text(tag)
        git(folder, "add", "-A")
        git(folder, "-c", "user.name=D", "-c", "user.email=d@pb.test", "commit", "-qm", tag)
        git(folder, "tag", tag)
    if owner is not None:
        for root, dirs, files in os.walk(folder):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.lchown(name, owner, owner)
    return folder


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """A release checkout owned by another user."""
    return make_checkout(tmp_path / "prompt-base", owner=OTHER_UID)


@pytest.fixture
def settings(tmp_path: Path, foreign: Path) -> Settings:
    step = RollbackStep(name="Check out", argv=["git", "checkout", "-q", "--detach", "{tag}"])
    return Settings(
        opsbot_db=tmp_path / "opsbot.db",
        rollback_repo=foreign,
        rollback=Rollback(steps=[step]),
    )


@as_root
def test_a_checkout_owned_by_another_user_is_read_and_rolled_back(
    foreign: Path, deps: Deps
) -> None:
    """Tags are read and the `git checkout` step runs in a checkout git calls dubious."""
    plain = subprocess.run(["git", "-C", str(foreign), "tag"], capture_output=True, text=True)
    assert "dubious ownership" in plain.stderr  # what git says without the trust
    assert releases.releases(foreign) == ["v1.1.0", "v1.0.0"]
    shown = service.preview(deps, "v1.0.0", None)
    outcome, tail = service.run(deps, service.request(deps, shown, "U1"), lambda r, s: None)
    assert (outcome, tail) == ("ok", [])
    assert git(foreign, "describe", "--tags").strip() == "v1.0.0"


def test_a_steps_own_git_config_is_kept() -> None:
    """The trust is added after the GIT_CONFIG_* entries a step was given, not over them."""
    env = git_env(
        Path("/srv/pb"),
        {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.x", "GIT_CONFIG_VALUE_0": "y"},
    )
    assert env["GIT_CONFIG_COUNT"] == "2" and env["GIT_CONFIG_KEY_0"] == "core.x"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == ("safe.directory", "/srv/pb")


@as_root
def test_the_doctor_accepts_a_trusted_checkout_of_another_user(
    slack, tmp_path: Path, foreign: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The doctor runs git as opsbot does, so a foreign-owned checkout is green, and says
    whose it is."""
    checkout = tmp_path / "prompt-base"
    config = tmp_path / "opsbot.toml"
    config.write_text('[[rollback.steps]]\nname = "Check out"\nargv = ["git", "checkout"]\n')
    code, results, _ = doctor(
        slack, tmp_path, ROLLBACK_REPO=str(checkout), OPSBOT_CONFIG=str(config)
    )
    assert "release checkout" not in failed(results), results["release checkout"]
    assert f"owned by uid {OTHER_UID}, trusted" in results["release checkout"]["detail"]


def test_the_doctor_checks_ssh_host_keys(slack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """An ssh step or remote whose host key is not known is a failure with the command that
    fixes it; a known one is green."""
    checkout = make_checkout(tmp_path / "prompt-base")
    git(checkout, "remote", "add", "origin", "git@code.example.org:team/prompt-base.git")
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text("app.example.org " + key.with_suffix(".pub").read_text())
    option = f"UserKnownHostsFile={known}"
    config = tmp_path / "opsbot.toml"
    config.write_text(
        f"""
[[rollback.steps]]
name = "Deploy"
argv = ["ssh", "-o", "{option}", "deploy@app.example.org", "deploy", "{{tag}}"]

[[rollback.steps]]
name = "Restart"
argv = ["ssh", "-p", "2222", "-o", "{option}", "deploy@app2.example.org", "restart"]
"""
    )
    code, results, _ = doctor(
        slack, tmp_path, ROLLBACK_REPO=str(checkout), OPSBOT_CONFIG=str(config)
    )
    assert results["ssh app.example.org"]["state"] == "ok"
    assert "host key known" in results["ssh app.example.org"]["detail"]
    unknown = results["ssh [app2.example.org]:2222"]
    assert unknown["state"] == "fail" and "step 'Restart'" in unknown["detail"]
    assert unknown["fix"].startswith(f"ssh-keyscan -p 2222 app2.example.org >> {known}")
    assert results["ssh code.example.org"]["state"] == "fail"  # the remote, not known
    assert "remote origin" in results["ssh code.example.org"]["detail"]
    assert code == 1
