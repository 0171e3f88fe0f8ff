"""`opsbot export`, run as a user runs it, on a history whose figures are worked out here:
three incidents (one acknowledged after 12 minutes and resolved after an hour, one before
the day asked for), two pages, an alert; as CSV and JSON, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.domain.incidents import service
from bot.store import Entry, Store
from tests.test_cli import opsbot

pytestmark = pytest.mark.both_engines

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ALICE, BOB = "U0ALICE01", "U0BOB0001"


def history(store: Store) -> None:
    settings = Settings()
    old = service.open_incident(
        store, settings, title="Before", severity="P2", actor=ALICE, now=T0 - timedelta(days=40)
    )
    login = service.open_incident(
        store, settings, title="Login broken", severity="P1", actor=ALICE, now=T0
    )
    service.open_incident(
        store,
        settings,
        title="=HYPERLINK(x)",
        severity="P3",
        actor=BOB,
        now=T0 + timedelta(hours=3),
    )
    service.acknowledge(store, settings, login.number, actor=BOB, now=T0 + timedelta(minutes=12))
    service.resolve(
        store, settings, login.number, actor=BOB, summary="Reverted", now=T0 + timedelta(hours=1)
    )
    store.people.save_name(BOB, "bob", T0)
    for number, at, role, who in (
        (old.number, T0 - timedelta(days=40), "on call", BOB),
        (login.number, T0 + timedelta(minutes=5), "escalation", BOB),
    ):
        entry = Entry(at, None, "page", f"Paged <@{who}> ({role})", f"page:{role}:{who}")
        store.incidents.add_entry(number, entry)
    store.alerts.save_alert(
        {
            "source": "alertmanager",
            "fingerprint": "f1",
            "status": "resolved",
            "severity": "critical",
            "summary": "API 5xx",
            "labels": json.dumps({"service": "api"}),
            "group_key": "api",
            "incident_id": login.number,
            "first_seen": (T0 - timedelta(minutes=1)).isoformat(),
            "last_seen": (T0 + timedelta(minutes=30)).isoformat(),
            "resolved_at": (T0 + timedelta(minutes=30)).isoformat(),
            "repeats": 3,
        }
    )


def where(database: str) -> dict[str, str]:
    if "://" in database:
        return {"OPSBOT_DATABASE_URL": database.replace("postgresql+psycopg://", "postgresql://")}
    return {"OPSBOT_DB": database}


def test_incidents_pages_and_alerts_as_csv_and_json(
    store: Store, database: str, tmp_path: Path
) -> None:
    history(store)
    env = where(database)
    done = opsbot("export", "incidents", "--since", "2026-11-01", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["incident"] for r in rows] == ["INC-2", "INC-3"]  # INC-1 is from before
    login = rows[0]
    assert (login["minutes_to_acknowledge"], login["minutes_to_resolve"]) == ("12.0", "60.0")
    assert login["opened_at"] == "2026-11-02T10:00:00+00:00" and login["summary"] == "Reverted"
    assert login["target_met"] == "True" and rows[1]["resolved_at"] == ""
    assert rows[1]["title"] == "'=HYPERLINK(x)"  # text in a spreadsheet, not a formula
    done = opsbot(
        "export", "pages", "--since", "2026-11-01", "--format", "json", env=env, cwd=tmp_path
    )
    assert json.loads(done.stdout) == [
        {
            "paged_at": "2026-11-02T10:05:00+00:00",
            "incident": "INC-2",
            "person": BOB,
            "person_name": "bob",
            "role": "escalation",
        }
    ]
    out = tmp_path / "alerts.csv"
    done = opsbot(
        "export", "alerts", "--since", "2026-11-01", "-o", str(out), env=env, cwd=tmp_path
    )
    assert "Exported 1 alerts since 2026-11-01" in done.stdout
    [alert] = list(csv.DictReader(out.open()))
    assert (alert["incident"], alert["repeats"], alert["labels"]) == (
        "INC-2",
        "3",
        '{"service": "api"}',
    )
    again = opsbot("export", "alerts", "-o", str(out), env=env, cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr  # never overwritten


def test_an_empty_export_still_says_its_columns(database: str, tmp_path: Path) -> None:
    done = opsbot("export", "pages", env=where(database), cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "paged_at,incident,person,person_name,role\n"


def test_a_bad_day_is_one_line_and_changes_nothing(database: str, tmp_path: Path) -> None:
    done = opsbot("export", "incidents", "--since", "2026-13-01", env=where(database), cwd=tmp_path)
    assert done.returncode == 2 and "not a day like 2026-09-01" in done.stderr
    assert done.stdout == ""
