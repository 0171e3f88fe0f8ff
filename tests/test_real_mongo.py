"""The same pymongo paths against a real mongod, when MONGODB_TEST_URI names one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bot.domain import health as checks
from commands.backup import care, engine
from tests.test_backup import seed

URI = os.environ.get("MONGODB_TEST_URI")
pytestmark = pytest.mark.skipif(not URI, reason="MONGODB_TEST_URI is not set")


@pytest.fixture
def client() -> Any:
    from pymongo import MongoClient

    real: Any = MongoClient(URI, serverSelectionTimeoutMS=3000)
    for name in ("opsbot_test", "opsbot_test_copy"):
        real.drop_database(name)
    yield real
    for name in ("opsbot_test", "opsbot_test_copy"):
        real.drop_database(name)
    real.close()


def test_round_trip_on_a_real_server(client: Any, tmp_path: Path) -> None:
    """Dump and restore give identical documents and indexes on a real mongod."""
    expected = seed(client, "opsbot_test")
    dumped = engine.dump(client.opsbot_test, tmp_path / "b", lambda name, n: None)
    assert dumped.counts == expected
    assert engine.restore(tmp_path / "b", client.opsbot_test_copy, lambda n, c: None) == expected
    assert "email_1" in client.opsbot_test_copy.users.index_information()


def test_health_and_care_on_a_real_server(client: Any) -> None:
    """Ping answers with a version; index usage is known on a real server."""
    seed(client, "opsbot_test")
    assert checks.probe_mongo(lambda: client, 3).state == checks.OK
    assert care.review_indexes(client.opsbot_test).usage_known
