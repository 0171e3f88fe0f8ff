"""OPSBOT_DATABASE_URL as a user meets it: opsbot runs on the PostgreSQL it names; one that
cannot be used (down, no such database, not PostgreSQL, written by a newer opsbot) stops the
command at start with one line naming the database and host, never the password, and exit
code 2; a second `opsbot serve` on one database is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.config import Settings
from bot.store import Store, StoreBusy, engines
from bot.store.schema.registry import NEWEST_REVISION
from bot.tools.localslack import LocalSlack
from bot.wiring import AlreadyServing, own_database
from tests.postgres import Cluster, as_user_writes, free_port
from tests.test_cli import opsbot
from tests.test_doctor import doctor


def test_a_server_that_is_down_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Nothing listens on the port: the line names host, port and database, not the password."""
    url = f"postgresql://opsbot:hunter2@127.0.0.1:{free_port()}/opsbot_prod"
    ran = opsbot("jobs", env={"OPSBOT_DATABASE_URL": url}, cwd=tmp_path)
    assert ran.returncode == 2
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith("opsbot: OPSBOT_DATABASE_URL: cannot use PostgreSQL database")
    assert "'opsbot_prod' on 127.0.0.1:" in line and "refused" in line
    assert "hunter2" not in ran.stderr + ran.stdout


def test_a_database_that_does_not_exist_is_named(tmp_path: Path, postgres_cluster: Cluster) -> None:
    url = as_user_writes(postgres_cluster.url("no_such_db"), "hunter2")
    ran = opsbot("jobs", env={"OPSBOT_DATABASE_URL": url}, cwd=tmp_path)
    assert ran.returncode == 2
    [line] = ran.stderr.strip().splitlines()
    assert "'no_such_db' on 127.0.0.1:" in line and "does not exist" in line
    assert "hunter2" not in ran.stderr


def test_a_url_that_is_not_postgresql_is_refused_without_echo(tmp_path: Path) -> None:
    ran = opsbot("jobs", env={"OPSBOT_DATABASE_URL": "mysql://root:hunter2@db/ops"}, cwd=tmp_path)
    assert ran.returncode == 2
    assert "OPSBOT_DATABASE_URL" in ran.stderr and "postgresql://" in ran.stderr
    assert "hunter2" not in ran.stderr


def test_a_database_a_newer_opsbot_wrote_is_refused_with_both_versions(
    tmp_path: Path, postgres_store_url: str
) -> None:
    """The database is at a revision this opsbot does not know: nothing is touched."""
    with sa.create_engine(postgres_store_url).begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0042'"))
        conn.execute(sa.text("CREATE TABLE from_the_future (id integer)"))
    ran = opsbot(
        "jobs",
        env={"OPSBOT_DATABASE_URL": as_user_writes(postgres_store_url, "hunter2")},
        cwd=tmp_path,
    )
    assert ran.returncode == 2
    assert "newer opsbot" in ran.stderr and "0042" in ran.stderr
    assert f"up to revision {NEWEST_REVISION}" in ran.stderr
    assert "hunter2" not in ran.stderr
    with sa.create_engine(postgres_store_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0042"


def test_any_number_may_serve_a_postgresql_database_and_one_serve_a_sqlite_file(
    postgres_store_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL no process owns the database (one of them leads: bot/leader.py); a
    SQLite file is one serve's, the second refused while the first lives."""
    on_postgresql = Settings(opsbot_database_url=postgres_store_url)
    assert own_database(on_postgresql) is None and own_database(on_postgresql) is None
    on_sqlite = Settings(opsbot_db=tmp_path / "opsbot.db")
    first = own_database(on_sqlite)
    assert first is not None
    try:
        with pytest.raises(AlreadyServing, match="served by pid"):
            own_database(on_sqlite)
    finally:
        first.close()
    again = own_database(on_sqlite)
    assert again is not None
    again.close()


def test_a_store_on_postgresql_shows_no_password(postgres_store_url: str) -> None:
    store = Store(as_user_writes(postgres_store_url, "s3cret"))
    try:
        assert "s3cret" not in store.path and "127.0.0.1" in store.path
    finally:
        store.close()


def test_doctor_checks_the_postgresql_database(
    slack: LocalSlack, tmp_path: Path, postgres_store_url: str, postgres_cluster: Cluster
) -> None:
    """Reachable, at its revision: ok, with who leads it (nobody, or the lease's holder);
    unreachable: a failed check naming it, never the password."""
    url = as_user_writes(postgres_store_url, "hunter2")
    code, results, _ = doctor(slack, tmp_path, OPSBOT_DATABASE_URL=url)
    assert results["database"]["state"] == "ok", results["database"]
    detail = results["database"]["detail"]
    assert f"PostgreSQL, at revision {NEWEST_REVISION}; no opsbot serve leads it" in detail
    store = Store(postgres_store_url)
    try:
        assert store.leases.take("host:42:abc", 60, NEWEST_REVISION) is not None
        _, results, _ = doctor(slack, tmp_path, OPSBOT_DATABASE_URL=url)
    finally:
        store.close()
    assert results["database"]["state"] == "ok"
    led = re.search(
        r"led by (\S+) for \d+ s \(lease token (\d+), (\d+) s left\)",
        detail := results["database"]["detail"],
    )
    assert led is not None, detail
    assert led.group(1, 2) == ("host:42:abc", "1") and 50 < int(led.group(3)) <= 60
    gone = as_user_writes(postgres_cluster.url("no_such_db"), "hunter2")
    _, results, shown = doctor(slack, tmp_path, OPSBOT_DATABASE_URL=gone)
    assert results["database"]["state"] == "fail"
    assert "'no_such_db'" in results["database"]["detail"] and "hunter2" not in shown


def test_a_postgresql_restart_or_outage_is_busy_then_passes(
    own_postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server restarts (an upgrade, a failover) or is down a while: a statement on a
    connection it dropped, or with none to be had, is StoreBusy ("busy; nothing was
    changed. Try again."), never a driver error, and the next one after it is back works."""
    monkeypatch.setattr(engines, "IDLE_CHECK_SECONDS", 3600)  # the connection is in steady use
    store = Store(own_postgres_cluster.create_database("restarts"))
    store.migrate()
    store.set_state("k", "before")
    own_postgres_cluster.pause()
    own_postgres_cluster.resume()
    with pytest.raises(StoreBusy):  # its connection was dropped by the restart
        store.set_state("k", "during")
    store.set_state("k", "after")  # a new connection
    own_postgres_cluster.pause()
    with pytest.raises(StoreBusy):  # down: nothing listens
        store.state("k")
    own_postgres_cluster.resume()
    assert store.state("k") == "after"
    store.close()
