"""The throw-away PostgreSQL the suite starts: an empty database per test, a server that is
not root and is reachable only on loopback."""

from __future__ import annotations

import psutil
import pytest
import sqlalchemy as sa

from tests.postgres import Cluster

TEST_DATABASES = r"SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'"


def test_a_test_gets_an_empty_database_to_use(postgres_url: str) -> None:
    """A test's database has no tables, and one made through SQLAlchemy keeps its rows."""
    engine = sa.create_engine(postgres_url)
    assert sa.inspect(engine).get_table_names() == []
    notes = sa.Table("notes", sa.MetaData(), sa.Column("text", sa.Text))
    with engine.begin() as conn:
        notes.create(conn)
        conn.execute(notes.insert(), [{"text": "héllo"}])
    with engine.connect() as conn:
        assert conn.scalars(sa.select(notes.c.text)).all() == ["héllo"]
    engine.dispose()


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_sees_only_its_own_database(postgres_url: str, turn: str) -> None:
    """The only test's database on the cluster is this one's: earlier tests' are dropped."""
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        names = conn.scalars(sa.text(TEST_DATABASES)).all()
    engine.dispose()
    assert names == [engine.url.database]


def test_the_server_is_not_root_and_listens_only_on_loopback(
    postgres_cluster: Cluster, postgres_url: str
) -> None:
    """The server process runs as a user other than root and binds 127.0.0.1 alone."""
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:  # the backend ends with the connection
        backend = psutil.Process(conn.scalar(sa.text("SELECT pg_backend_pid()")))
        server = psutil.Process(backend.ppid())
    engine.dispose()
    listening = [c.laddr for c in server.net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert server.uids().real != 0
    assert listening == [("127.0.0.1", postgres_cluster.port)]
