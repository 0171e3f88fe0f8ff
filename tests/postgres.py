"""A throw-away PostgreSQL for tests: one cluster per pytest worker, one empty database per test.

The binaries come from OPSBOT_PG_BIN (a directory), else PATH, else the newest
/usr/lib/postgresql/*/bin. Without them the tests that ask for PostgreSQL are skipped, unless
OPSBOT_REQUIRE_POSTGRES is set (CI sets it): then they fail, so a missing server is never silent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

USER = "opsbot"  # the cluster's superuser, trusted on 127.0.0.1
SERVER_USER = "postgres"  # initdb refuses root, so as root the server runs as this system user
SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{root}'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def find_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when there is none."""
    named = os.environ.get("OPSBOT_PG_BIN")
    if named:
        if not (Path(named) / "initdb").is_file():
            pytest.fail(f"OPSBOT_PG_BIN={named} holds no initdb")
        return Path(named)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=major_version)
    return debian[-1].parent if debian else None


def major_version(initdb: Path) -> list[int]:
    """9.6 < 15 < 16, from /usr/lib/postgresql/<version>/bin/initdb."""
    return [int(n) for n in initdb.parts[-3].split(".") if n.isdigit()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """A PostgreSQL server in its own temporary directory, on a free port of 127.0.0.1."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_server_user = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []
        self.root = Path(tempfile.mkdtemp(prefix="opsbot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.startup_seconds = 0.0

    def start(self) -> None:
        """Make the cluster and start its server; a failure carries the server's own words."""
        began = time.monotonic()
        if self.as_server_user:
            shutil.chown(self.root, user=SERVER_USER)
        quick = ["--no-sync", "--no-locale", "--encoding=UTF8"]
        made = self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", *quick)
        if made.returncode:
            raise RuntimeError(f"initdb failed:\n{made.stdout[-1500:]}{made.stderr[-1500:]}")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(SETTINGS.format(root=self.root))
        for _ in range(5):  # another process may take the free port before the server binds it
            self.port, logged = free_port(), self._log_size()
            started = self._pg_ctl("start", "-w", "-l", str(self.log), "-o", f"-p {self.port}")
            if started.returncode == 0:
                self.startup_seconds = time.monotonic() - began
                return
            said = self._log_from(logged)
            if "Address already in use" not in said:
                break
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr[-1000:]}{said[-2000:]}")

    def pause(self) -> None:
        """Stop the server as a restart or an outage does, keeping its data and its port."""
        self._pg_ctl("stop", "-w", "-m", "fast")

    def resume(self) -> None:
        started = self._pg_ctl("start", "-w", "-l", str(self.log), "-o", f"-p {self.port}")
        if started.returncode:
            raise RuntimeError(f"PostgreSQL did not start again:\n{started.stderr[-1000:]}")

    def stop(self) -> None:
        """Stop the server, if it runs, and remove its directory."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database's URL: empty, or a copy of `template`."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            # FILE_COPY: for a small template, a file copy is quicker than WAL-logging it
            statement += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        self._admin(statement)
        return self.url(name)

    @contextmanager
    def database(self, template: str | None = None) -> Iterator[str]:
        """A database of its own (a copy of `template`, or empty), dropped after."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        try:
            yield self.create_database(name, template=template)
        finally:
            self.drop_database(name)

    def drop_database(self, name: str) -> None:
        """Drop the database, closing whatever connections a test left open on it."""
        self._admin(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        address = {"host": "127.0.0.1", "port": self.port, "user": USER, "dbname": "postgres"}
        with psycopg.connect(**address, autocommit=True) as conn:
            conn.execute(statement)

    def _log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def _log_from(self, offset: int) -> str:
        return self.log.read_bytes()[offset:].decode(errors="replace") if self.log.exists() else ""

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run("pg_ctl", *args, "-D", str(self.data))

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [*self.as_server_user, str(self.bin_dir / program), *args]
        return subprocess.run(argv, cwd=self.root, capture_output=True, text=True, timeout=90)


def as_user_writes(url: str, password: str | None = None) -> str:
    """A fixture's URL as a user writes it: postgresql:// (the fixtures name the driver),
    with `password` when given (the cluster trusts local connections and ignores it)."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return plain if password is None else plain.replace(f"//{USER}@", f"//{USER}:{password}@")


def _cluster() -> Iterator[Cluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = "no PostgreSQL: no initdb in OPSBOT_PG_BIN, on PATH or in /usr/lib/postgresql"
        if os.environ.get("OPSBOT_REQUIRE_POSTGRES"):
            pytest.fail(f"{reason}, and OPSBOT_REQUIRE_POSTGRES is set")
        pytest.skip(reason)
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """This worker's cluster, stopped and removed at the end of the session, pass or fail."""
    yield from _cluster()


@pytest.fixture
def own_postgres_cluster() -> Iterator[Cluster]:
    """A cluster for one test that stops and starts its server."""
    yield from _cluster()


TEMPLATE = "opsbot_template"


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: Cluster) -> str:
    """A database with opsbot's schema, made once per worker, for copying."""
    from bot.store import Store

    store = Store(postgres_cluster.create_database(TEMPLATE))
    store.migrate()
    store.close()
    return TEMPLATE


@pytest.fixture
def postgres_store_url(postgres_cluster: Cluster, postgres_template: str) -> Iterator[str]:
    """A SQLAlchemy URL of a database of this test's own with opsbot's schema, dropped after."""
    with postgres_cluster.database(template=postgres_template) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database of this test's own, dropped after it."""
    with postgres_cluster.database() as url:
        yield url
