"""The mongodump engine, with stand-in mongodump/mongorestore programs on PATH (real
subprocesses): the URI stays out of argv, progress is parsed, failures leave no files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import mongomock
import pytest

from commands.backup import service
from tests.helpers import programs_on_path

URI = "mongodb://admin:hunter2@db.internal:27017/promptbase"
FAKE_DUMP = """#!{python}
import gzip, json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
fake = json.load(open(os.path.join(os.path.dirname(sys.argv[0]), "fake.json")))
log = open(fake["log"], "a")
log.write(json.dumps(sys.argv) + "\\n")
config = open(args["config"]).read()
assert "hunter2" in config and os.stat(args["config"]).st_mode & 0o077 == 0
with gzip.open(args["archive"], "wb") as out:
    out.write(b"archive of " + args["db"].encode())
    for name, n in (("prompts", 250), ("users", 40)):
        stamp = "2026-11-28T10:00:00.000+0000"
        print(f"{{stamp}}\\tdone dumping {{args['db']}}.{{name}} ({{n}} documents)",
              file=sys.stderr, flush=True)
        if fake.get("fail") and name == "users":
            print("Failed: connection(db.internal:27017) reset: mongodb://admin:hunter2@x",
                  file=sys.stderr)
            sys.exit(1)
"""
FAKE_RESTORE = """#!{python}
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
fake = json.load(open(os.path.join(os.path.dirname(sys.argv[0]), "fake.json")))
open(fake["log"], "a").write(json.dumps(sys.argv) + "\\n")
target = args["nsTo"].split(".")[0]
for name, n in (("prompts", 250), ("users", 40)):
    print(f"finished restoring {{target}}.{{name}} ({{n}} documents, 0 failures)", file=sys.stderr)
"""


@pytest.fixture
def tools_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    programs_on_path(
        monkeypatch, tmp_path / "bin", {"mongodump": FAKE_DUMP, "mongorestore": FAKE_RESTORE}
    )
    # The stand-ins read their settings from a file beside them: programs opsbot runs see
    # none of its environment beyond PATH, HOME, LANG, LC_*, TZ and TMPDIR.
    log = tmp_path / "calls.log"
    (tmp_path / "bin" / "fake.json").write_text(json.dumps({"log": str(log)}))
    return log


@pytest.fixture
def bdeps(deps: Any, tmp_path: Path) -> Any:
    from pydantic import SecretStr

    client = mongomock.MongoClient()
    settings = deps.settings.model_copy(
        update={"backup_dir": tmp_path / "backups", "mongodb_uri": SecretStr(URI)}
    )
    return replace(deps, settings=settings, mongo=lambda: client)


def test_mongodump_when_installed_keeps_the_uri_off_the_command_line(
    bdeps: Any, tools_on_path: Path
) -> None:
    """auto picks mongodump; counts come from its output; argv never holds the password."""
    seen: list[tuple[str, int]] = []
    outcome = service.run_backup(bdeps, reason="t", progress=lambda n, c: seen.append((n, c)))
    assert outcome.status == "ok" and outcome.counts == {"prompts": 250, "users": 40}
    assert seen == [("prompts", 250), ("users", 40)]
    row = bdeps.store.backups.backup(outcome.id)
    assert row.engine == "mongodump" and row.size > 0
    calls = tools_on_path.read_text()
    assert "hunter2" not in calls and "--gzip" in calls and "--db=promptbase" in calls


def test_restore_test_runs_mongorestore_into_the_scratch_database(
    bdeps: Any, tools_on_path: Path
) -> None:
    """verify --restore maps promptbase.* to promptbase_restore_test.* and compares counts."""
    outcome = service.run_backup(bdeps, reason="t", progress=lambda n, c: None)
    _, problems = service.verify(bdeps, outcome.id, restore_test=True, progress=lambda n, c: None)
    assert problems == []
    restore_call = tools_on_path.read_text().splitlines()[-1]
    assert "--nsTo=promptbase_restore_test.*" in restore_call and "--drop" in restore_call


def test_failed_mongodump_leaves_no_archive_and_no_secret(
    bdeps: Any, tools_on_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-zero exit fails the backup, removes the archive and redacts the error."""
    fake = tools_on_path.parent / "bin" / "fake.json"
    fake.write_text(json.dumps({"log": str(tools_on_path), "fail": True}))
    outcome = service.run_backup(bdeps, reason="t", progress=lambda n, c: None)
    row = bdeps.store.backups.backup(outcome.id)
    assert row.status == "failed" and row.error.startswith("mongodump exited 1")
    assert "hunter2" not in row.error and "***@" in row.error
    assert not Path(row.path).exists()


def test_builtin_can_be_forced(bdeps: Any, tools_on_path: Path) -> None:
    """backup.engine = builtin ignores an installed mongodump."""
    forced = replace(
        bdeps,
        settings=bdeps.settings.model_copy(
            update={"backup": bdeps.settings.backup.model_copy(update={"engine": "builtin"})}
        ),
    )
    assert service.engine_for(forced) == "builtin"
    assert service.engine_for(bdeps) == "mongodump"
