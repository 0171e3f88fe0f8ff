"""Health readings, kept for a while, and alert episodes: one per check that is not ok, its
message updated in place until it recovers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from bot.store.base import Repository
from bot.store.schema.records import health_episodes, health_readings
from bot.store.sql import _iso, _parse, _rows, cells


@dataclass(frozen=True)
class Reading:
    """One check's reading as the monitor kept it."""

    id: int
    at: datetime
    check: str
    state: str
    value: float | None
    summary: str


@dataclass(frozen=True)
class Episode:
    """A check that is not ok: the alert message updated in place until it recovers."""

    id: int
    check: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    channel: str
    ts: str
    incident: int | None
    ok_streak: int  # ok readings in a row so far (recovery needs several)


def _reading(row: dict[str, Any]) -> Reading:
    return Reading(
        row["id"],
        datetime.fromisoformat(row["at"]),
        row["check_name"],
        row["state"],
        row["value"],
        row["summary"],
    )


def _episode(row: dict[str, Any]) -> Episode:
    return Episode(
        row["id"],
        row["check_name"],
        row["state"],
        datetime.fromisoformat(row["started_at"]),
        _parse(row["ended_at"]),
        row["channel"],
        row["ts"],
        row["incident_id"],
        row["ok_streak"] or 0,
    )


class HealthStore(Repository):
    def add_readings(
        self, at: datetime, readings: list[tuple[str, str, float | None, str]], keep: timedelta
    ) -> None:
        rows = [
            cells(
                {
                    "at": _iso(at),
                    "check_name": check,
                    "state": state,
                    "value": value,
                    "summary": summary,
                }
            )
            for check, state, value, summary in readings
        ]
        with self._write() as db:
            if rows:  # an empty list of parameters would insert one empty row
                db.execute(insert(health_readings), rows)
            db.execute(delete(health_readings).where(health_readings.c.at < _iso(at - keep)))

    def readings(self, check: str, since: datetime) -> list[Reading]:
        query = (
            select(health_readings)
            .where(health_readings.c.check_name == check, health_readings.c.at >= _iso(since))
            .order_by(health_readings.c.at, health_readings.c.id)
        )
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return [_reading(r) for r in rows]

    def open_episode(self, check: str) -> Episode | None:
        query = (
            select(health_episodes)
            .where(health_episodes.c.check_name == check, health_episodes.c.ended_at.is_(None))
            .order_by(health_episodes.c.id)
            .limit(1)
        )
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return _episode(rows[0]) if rows else None

    def save_episode(self, episode: dict[str, Any]) -> int:
        """Change the episode `episode["id"]` names (only the fields given), or add one."""
        with self._write() as db:
            if episode.get("id"):
                fields = cells({k: v for k, v in episode.items() if k != "id"})
                db.execute(
                    update(health_episodes)
                    .where(health_episodes.c.id == episode["id"])
                    .values(fields)
                )
                return int(episode["id"])
            added = insert(health_episodes).values(cells(episode))
            row_id: int = db.execute(added.returning(health_episodes.c.id)).scalar_one()
        return row_id
