"""Shared fixtures: a clean environment, real SQLite in tmp_path, a fixed clock, a local Slack;
throw-away PostgreSQL databases from tests/postgres.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import create_app, make_client
from bot.config import Settings
from bot.deps import Deps
from bot.outbox import Outbox
from bot.pools import Pools
from bot.store import Store
from bot.tools.localslack import LocalSlack
from bot.wiring import delivery_kinds
from commands import SURFACES
from jobs import next_runs

pytest_plugins = ["tests.postgres"]  # the postgres_* fixtures, own_postgres_cluster

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday morning


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the environment; a developer's own SLACK_* must not leak in."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "OPSBOT_", "MONGODB_", "PROMPTBASE_")) or name in (
            "PORT",
            "INCIDENTS_CHANNEL",
            "DIGEST_CHANNEL",
            "BACKUP_DIR",
            "ROLLBACK_REPO",
            "TIMEZONE",
            "INCIDENTS",
        ):
            monkeypatch.delenv(name)
    # The suites written for incidents that work in their thread of #incidents keep doing so;
    # tests of incident channels ask for them (incidents={"channel": ...}, which wins).
    monkeypatch.setenv("INCIDENTS", '{"channel": "never"}')


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(opsbot_db=tmp_path / "opsbot.db")


ENGINES = ("sqlite", "postgresql")
TEST_ENGINE = os.environ.get("OPSBOT_TEST_ENGINE", "sqlite")  # read before clean_env runs


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_engines: run this module's `store` on SQLite and on PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked both_engines gets its store once per engine; others, SQLite only (or
    PostgreSQL only when OPSBOT_TEST_ENGINE=postgresql, to run the whole suite there)."""
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("engine", ENGINES)


POSTGRES_FIXTURES = {"postgres_cluster", "postgres_url", "postgres_store_url"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on PostgreSQL run on one worker, so one cluster is started, not one per
    worker (unless the whole suite runs there)."""
    if TEST_ENGINE != "sqlite":
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("engine") == "postgresql"
        if on_postgres or POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("postgresql"))


@pytest.fixture
def engine() -> str:
    return TEST_ENGINE


@pytest.fixture
def database(settings: Settings, engine: str, request: pytest.FixtureRequest) -> str:
    """Where this test's store is, with the schema in place: a SQLite file in tmp_path, or a
    PostgreSQL database of the test's own."""
    if engine == "postgresql":
        url: str = request.getfixturevalue("postgres_store_url")
        return url
    return str(settings.opsbot_db)


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    store = Store(database)
    if store.sqlite:  # a PostgreSQL database here is a copy of a migrated template
        store.migrate()
    yield store
    store.close()


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        yield workspace


SECRET = "test-signing-secret"


def make_deps(settings: Settings, store: Store, slack: LocalSlack, clock: Clock) -> Deps:
    """Deps without background delivery: a test calls deps.outbox.drain() to deliver."""
    local = settings.model_copy(update={"slack_api_url": slack.api_base})
    outbox = Outbox(store, local, "xoxb-test", delivery_kinds())
    built = Deps(
        settings=local,
        store=store,
        outbox=outbox,
        pools=Pools.from_settings(local),
        clock=clock,
        slack=make_client("xoxb-test", slack.api_base),
        next_jobs=next_runs,
    )
    outbox.bind(built)
    return built


@pytest.fixture
def deps(settings: Settings, store: Store, slack: LocalSlack, clock: Clock) -> Iterator[Deps]:
    built = make_deps(settings, store, slack, clock)
    yield built
    built.pools.shutdown()


@pytest.fixture
def app(deps: Deps):  # type: ignore[no-untyped-def]
    listeners = ThreadPoolExecutor(8)
    yield create_app(deps, signing_secret=SECRET, listener_executor=listeners, surfaces=SURFACES)
    listeners.shutdown(wait=True)
