"""Health readings, kept for a while, and alert episodes: one per check that is not ok, its
message updated in place until it recovers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.store.base import StoreBase, _cell, _insert, _iso, _query


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
            db.execute("DELETE FROM health_readings WHERE at < ?", [_iso(at - keep)])

    def readings(self, check: str, since: datetime) -> list[dict[str, Any]]:
        sql = "SELECT * FROM health_readings WHERE check_name = ? AND at >= ? ORDER BY at"
        with self._connect() as db:
            rows = _query(db, sql, [check, _iso(since)])
        return [{**r, "at": datetime.fromisoformat(r["at"])} for r in rows]

    def open_episode(self, check: str) -> dict[str, Any] | None:
        sql = "SELECT * FROM health_episodes WHERE check_name = ? AND ended_at IS NULL"
        with self._connect() as db:
            rows = _query(db, sql, [check])
        return rows[0] if rows else None

    def save_episode(self, episode: dict[str, Any]) -> int:
        with self._write() as db:
            if episode.get("id"):
                fields = {k: v for k, v in episode.items() if k != "id"}
                sets = ", ".join(f"{k} = ?" for k in fields)
                db.execute(
                    f"UPDATE health_episodes SET {sets} WHERE id = ?",
                    [*(_cell(value) for value in fields.values()), episode["id"]],
                )
                return int(episode["id"])
            row_id = _insert(db, "health_episodes", episode).lastrowid
        assert row_id is not None
        return row_id
