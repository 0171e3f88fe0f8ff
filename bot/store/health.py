"""Health readings, kept for a while, and alert episodes: one per check that is not ok, its
message updated in place until it recovers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.store.base import StoreBase, _cell, _insert, _iso, _parse, _query, _sql


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


class HealthStore(StoreBase):
    def add_readings(
        self, at: datetime, readings: list[tuple[str, str, float | None, str]], keep: timedelta
    ) -> None:
        with self._write() as db:
            for check, state, value, summary in readings:
                _insert(
                    db,
                    "health_readings",
                    {
                        "at": _iso(at),
                        "check_name": check,
                        "state": state,
                        "value": value,
                        "summary": summary,
                    },
                )
            _sql(db, "DELETE FROM health_readings WHERE at < ?", [_iso(at - keep)])

    def readings(self, check: str, since: datetime) -> list[Reading]:
        sql = "SELECT * FROM health_readings WHERE check_name = ? AND at >= ? ORDER BY at"
        with self._connect() as db:
            rows = _query(db, sql, [check, _iso(since)])
        return [_reading(r) for r in rows]

    def open_episode(self, check: str) -> Episode | None:
        sql = "SELECT * FROM health_episodes WHERE check_name = ? AND ended_at IS NULL"
        with self._connect() as db:
            rows = _query(db, sql, [check])
        return _episode(rows[0]) if rows else None

    def save_episode(self, episode: dict[str, Any]) -> int:
        with self._write() as db:
            if episode.get("id"):
                fields = {k: v for k, v in episode.items() if k != "id"}
                sets = ", ".join(f"{k} = ?" for k in fields)
                _sql(
                    db,
                    f"UPDATE health_episodes SET {sets} WHERE id = ?",
                    [*(_cell(value) for value in fields.values()), episode["id"]],
                )
                return int(episode["id"])
            row_id = _insert(db, "health_episodes", episode).lastrowid
        assert row_id is not None
        return row_id
