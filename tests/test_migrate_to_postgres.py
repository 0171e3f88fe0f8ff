"""`opsbot migrate --to postgresql://...` as a user runs it: every table of a SQLite
database that has been used arrives in an empty PostgreSQL database with the same rows, the
next ids follow the copied ones, and a target that is not empty, not reachable or not
PostgreSQL is refused in one line that never shows the password, with nothing changed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import Change, Entry, Incident, Store
from bot.store.copy import NOT_COPIED, CopyRefused, target_url
from bot.store.schema.tables import metadata
from tests.conftest import T0
from tests.postgres import as_user_writes
from tests.test_cli import opsbot


def _used_database(path: Path) -> dict[str, int]:
    """A database with rows in many tables, made through the store; its counts per table."""
    store = Store(path)
    store.migrate()
    for n in range(3):
        draft = Incident(0, f"Checkout down {n}", "P1", "open", "U1", "U1", T0)
        change = Change(
            entries=(Entry(T0, "U1", "opened", f"Opened {n}"),),
            timers={"ack": T0 + timedelta(minutes=15)},
        )
        opened = store.incidents.open_incident(draft, change)
        store.incidents.add_entry(
            opened.number, Entry(T0, "U2", "note", "Rolled back the pool change")
        )
    with store.atomic():
        store.outbox.enqueue("post", "slack:C1", {"text": "héllo"}, incident=1)
    store.inbox.receive("Ev1", '{"type": "reaction_added"}', T0)
    store.set_state("install", "2026-12-01")
    store.jobs.claim_run("backup-nightly", T0, T0, "owner")
    store.outbox.take_pace("slack:C1", 100.0, 1, 3)
    store.alerts.count_alerts("prom", T0, 4)
    store.digests.add_digest("daily", "2026-12-01", "C2", "1.2", T0, [{"key": "e", "text": "ok"}])
    store.digests.mark(1, "errors", "U1", T0)
    store.close()
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
            if t.name not in NOT_COPIED
        }


def test_every_table_arrives_with_its_rows_and_ids_go_on(tmp_path: Path, postgres_url: str) -> None:
    counts = _used_database(tmp_path / "opsbot.db")
    assert counts["incidents"] == 3 and counts["timeline"] == 6 and counts["digest_marks"] == 1
    ran = opsbot("migrate", "--to", as_user_writes(postgres_url), env={}, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert f"Copied {sum(counts.values())} rows in {len(counts)} tables" in ran.stdout
    assert "  incidents: 3 rows" in ran.stdout
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        for name, expected in counts.items():
            found = conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[name]))
            assert found.scalar_one() == expected, name
        incidents = metadata.tables["incidents"]
        titles = conn.execute(sa.select(incidents.c.title).order_by(incidents.c.id)).scalars()
        assert list(titles) == ["Checkout down 0", "Checkout down 1", "Checkout down 2"]
        outbox = metadata.tables["outbox"]
        with sa.create_engine(f"sqlite:///{tmp_path / 'opsbot.db'}").connect() as source:
            stored = source.execute(sa.select(outbox.c.payload)).scalar_one()
        assert "llo" in stored and conn.execute(sa.select(outbox.c.payload)).scalar_one() == stored
        added = conn.execute(
            incidents.insert()
            .values(title="t", severity="P2", status="open", opened_by="U1", opened_at="t")
            .returning(incidents.c.id)
        )
        assert added.scalar_one() == 4  # the next id follows the copied ones
        lease = conn.execute(sa.text("SELECT holder, token FROM leader_lease")).one()
        assert tuple(lease) == ("", 0)  # the target's own: nobody has led it yet
    engine.dispose()


def test_a_target_that_is_not_empty_is_refused_and_left_alone(
    tmp_path: Path, postgres_url: str
) -> None:
    _used_database(tmp_path / "opsbot.db")
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE theirs (x int)"))
        conn.execute(sa.text("INSERT INTO theirs VALUES (1)"))
    ran = opsbot("migrate", "--to", as_user_writes(postgres_url), env={}, cwd=tmp_path)
    assert ran.returncode == 2
    assert "is not empty (1 tables)" in ran.stderr and "Nothing was changed" in ran.stderr
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["theirs"]
    engine.dispose()


def test_an_unreachable_or_wrong_target_is_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    _used_database(tmp_path / "opsbot.db")
    ran = opsbot(
        "migrate", "--to", "postgresql://ops:s3cret@127.0.0.1:9/opsbot", env={}, cwd=tmp_path
    )
    assert ran.returncode == 2
    assert ran.stderr.startswith("opsbot: cannot reach PostgreSQL at 127.0.0.1:9/opsbot")
    assert len(ran.stderr.strip().splitlines()) == 1 and "s3cret" not in ran.stderr
    # the other mistakes are refused before any connection, by the same words
    for mistyped, said in [
        ("mysql://ops:s3cret@db/opsbot", "--to must be a postgresql:// URL, not mysql://"),
        ("postgresql://ops:s3c@ret@db/opsbot", "--to has more than one '@'"),
        ("postgresql://ops:s3cret@db:x/opsbot", "--to must be a URL"),
        ("postgresql://ops:s3cret@db", "--to names no database"),
    ]:
        with pytest.raises(CopyRefused) as refused:
            target_url(mistyped)
        assert str(refused.value).startswith(said) and "s3c" not in str(refused.value)
