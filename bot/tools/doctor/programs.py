"""The programs opsbot runs, with no network: git, npm and mongodump where the rollback steps
and backups need them, the release checkout git must accept, and the ssh host keys a step or
a remote over ssh needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bot.programs import git_argv, git_env, trusted
from bot.redact import clean_env
from bot.tools.doctor.files import _writable
from bot.tools.doctor.result import FAIL, OK, TIMEOUT, Context, Result


def tools(ctx: Context) -> list[Result]:
    """git and npm where the rollback steps need them, mongodump where backups do."""
    s, found = ctx.settings, []
    programs = {step.argv[0] for step in s.rollback.steps} if s.rollback_repo else set()
    if s.rollback_repo:
        programs.add("git")
    for program in sorted(programs - {"<built-in>"}):
        where = shutil.which(program)
        found.append(
            Result(
                program,
                OK if where else FAIL,
                f"{where}" if where else "not on PATH (a rollback step runs it)",
                f"install {program}, or change rollback.steps",
            )
        )
    if s.mongodb_uri is not None and s.backup.engine != "builtin":
        where = shutil.which("mongodump")
        if where:
            version = _run([where, "--version"]).splitlines()[0]
            found.append(Result("mongodump", OK, f"{where} ({version})"))
        elif s.backup.engine == "mongodump":
            found.append(
                Result(
                    "mongodump",
                    FAIL,
                    "not on PATH, and backup.engine is mongodump",
                    'install the MongoDB database tools, or set backup.engine = "builtin"',
                )
            )
        else:
            found.append(Result("mongodump", OK, "not installed: the built-in dumper is used"))
    return found


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=TIMEOUT, env=clean_env()
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return type(exc).__name__
    return (done.stdout or done.stderr).strip() or f"exit {done.returncode}"


def repo(ctx: Context) -> Result | list[Result]:
    """The release checkout: a git checkout with release tags, that git accepts the way
    opsbot runs it (trusted with safe.directory, also in the steps' git), and that the
    steps can write to when one of them is git (`git checkout` changes the working tree)."""

    if ctx.settings.rollback_repo is None:
        return []
    path = Path(ctx.settings.rollback_repo)
    if not (path / ".git").exists() and not (path / "HEAD").exists():
        return Result("release checkout", FAIL, f"{path} is not a git checkout", "ROLLBACK_REPO")
    if not shutil.which("git"):
        return []  # said by the git check
    owner, me = path.stat().st_uid, os.geteuid()
    trust = trusted(path)
    listed = _git(git_argv(path, "tag", "--list", "v*"), clean_env())
    # a rollback step's git is trusted through its environment (GIT_CONFIG_*), not -c
    in_step = _git(
        ["git", "-C", str(path), "rev-parse", "--git-dir"],
        git_env(path, clean_env()),
    )
    for done in (listed, in_step):
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
            return Result(
                "release checkout",
                FAIL,
                f"git refuses {path}: {said[:160]}",
                f"git config --system --add safe.directory {trust}"
                if "dubious ownership" in done.stderr
                else "check ROLLBACK_REPO",
            )
    tags = [t for t in listed.stdout.split() if t]
    if not tags:
        return Result(
            "release checkout", FAIL, f"{path} has no v* release tags", "tag releases vX.Y.Z"
        )
    owned = "" if owner == me else f"; owned by uid {owner}, trusted with safe.directory"
    results = [Result("release checkout", OK, f"{path}: {len(tags)} release tags{owned}")]
    uses_git = any(Path(step.argv[0]).name == "git" for step in ctx.settings.rollback.steps)
    if uses_git and not (_writable(path) and _writable(path / ".git")):
        results.append(
            Result(
                "release checkout access",
                FAIL,
                f"{path} is owned by uid {owner} and not writable by opsbot (uid {me}): "
                "the rollback's `git checkout` step would fail",
                f"give uid {me} write access (chown -R {me} {path}), or check the release "
                "out on the application host with an ssh step",
            )
        )
    return results


def _git(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return subprocess.CompletedProcess(argv, 1, "", type(exc).__name__)


# ssh options that take a value (OpenSSH's ssh(1)): the destination is the first other word.
_SSH_VALUED = set("BbcDEeFIiJLlmOoPpQRSWw")


def _ssh_destination(args: list[str]) -> int | None:
    """The index in `args` (ssh's arguments) of the destination, [user@]host or ssh://."""
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return index + 1 if index + 1 < len(args) else None
        if word.startswith("-") and len(word) > 1:
            flags = word[1:]
            for at, flag in enumerate(flags):
                if flag in _SSH_VALUED:
                    index += 1 if at == len(flags) - 1 else 0  # the value: next word, or glued
                    break
            index += 1
            continue
        return index
    return None


def _ssh_remote(url: str) -> list[str] | None:
    """ssh's arguments for a git remote reached over ssh (ssh://, or scp-like user@host:)."""
    if url.startswith(("ssh://", "git+ssh://", "ssh+git://")):
        rest = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = rest.rpartition(":") if "]" not in rest else (rest, "", "")
        if port.isdigit():
            return ["-p", port, host]
        return [rest]
    if "://" not in url and ":" in url.split("/", 1)[0]:
        return [url.split(":", 1)[0]]
    return None


def host_keys(ctx: Context) -> list[Result]:
    """ssh asks nobody in a container or a service: a host whose key is not known makes a
    rollback step over ssh (or a fetch from an ssh remote) fail. The host and port are
    ssh's own resolution (`ssh -G`, with the step's options); the key is looked up in the
    known_hosts files ssh would read."""

    s = ctx.settings
    if s.rollback_repo is None:
        return []
    wanted: list[tuple[str, list[str]]] = []  # (what needs it, ssh's arguments)
    for step in s.rollback.steps:
        if Path(step.argv[0]).name == "ssh":
            at = _ssh_destination(step.argv[1:])
            if at is not None:
                wanted.append((f"step {step.name!r}", step.argv[1 : at + 2]))
    if shutil.which("git") and Path(s.rollback_repo).exists():
        remotes = _git(
            git_argv(Path(s.rollback_repo), "config", "--get-regexp", r"^remote\..*\.url$"),
            clean_env(),
        )
        for line in remotes.stdout.splitlines():
            key, _, url = line.partition(" ")
            args = _ssh_remote(url.strip())
            if args:
                wanted.append((f"remote {key.split('.')[1]}", args))
    if not wanted:
        return []
    if not (shutil.which("ssh") and shutil.which("ssh-keygen")):
        return [
            Result(
                "ssh host keys",
                FAIL,
                "ssh is needed (" + ", ".join(w for w, _ in wanted) + ") and is not installed",
                "install openssh-client",
            )
        ]
    return [_host_key(what, args) for what, args in wanted]


def _host_key(what: str, args: list[str]) -> Result:
    done = _git(["ssh", "-G", *args], clean_env())
    config: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        config.setdefault(key.lower(), value)
    host, port = config.get("hostname", args[-1]), config.get("port", "22")
    name = host if port == "22" else f"[{host}]:{port}"
    check = config.get("stricthostkeychecking", "ask").lower()
    if check in ("no", "false", "off"):
        return Result(
            f"ssh {name}", OK, f"{what}: host keys are not checked (StrictHostKeyChecking no)"
        )
    files = [
        Path(os.path.expanduser(f))
        for key in ("userknownhostsfile", "globalknownhostsfile")
        for f in config.get(key, "").split()
    ]
    for known in files:
        if known.is_file():
            found = _git(["ssh-keygen", "-F", name, "-f", str(known)], clean_env())
            if found.returncode == 0 and found.stdout.strip():
                return Result(f"ssh {name}", OK, f"{what}: host key known ({known})")
    if check == "accept-new":
        return Result(
            f"ssh {name}",
            OK,
            f"{what}: not known yet; accepted at the first connection (accept-new)",
        )
    where = files[0] if files else Path("~/.ssh/known_hosts")
    port_flag = "" if port == "22" else f"-p {port} "
    return Result(
        f"ssh {name}",
        FAIL,
        f"{what}: the host key is not in {', '.join(str(f) for f in files) or 'known_hosts'}; "
        "ssh would refuse to connect, with nobody there to ask",
        f"ssh-keyscan {port_flag}{host} >> {where} (compare the fingerprint with the host's), "
        "and mount it where opsbot runs",
    )
