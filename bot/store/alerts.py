"""Alerts from monitoring, silences and maintenance windows, heartbeats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.base import StoreBase, _cell, _insert, _iso, _parse, _query, _sql


@dataclass(frozen=True)
class Alert:
    id: int
    source: str
    fingerprint: str
    status: str  # firing or resolved
    severity: str | None
    summary: str
    labels: dict[str, str]
    group_key: str
    url: str | None
    incident: int | None
    silenced_by: int | None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    repeats: int


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(
        row["id"],
        row["source"],
        row["fingerprint"],
        row["status"],
        row["severity"],
        row["summary"],
        json.loads(row["labels"]),
        row["group_key"],
        row["url"],
        row["incident_id"],
        row["silenced_by"],
        datetime.fromisoformat(row["first_seen"]),
        datetime.fromisoformat(row["last_seen"]),
        _parse(row["resolved_at"]),
        row["repeats"],
    )


@dataclass(frozen=True)
class Silence:
    """A silence, or a maintenance window (`kind`), over the alerts its matchers cover."""

    id: int
    kind: str  # silence or maintenance
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    reason: str
    component: str | None  # a maintenance window's component
    created_by: str
    created_at: datetime
    ended_at: datetime | None  # ended early by hand


@dataclass(frozen=True)
class Heartbeat:
    name: str
    last_beat: datetime | None  # None until the first beat
    missed_since: datetime | None  # None while on time


def _silence(row: dict[str, Any]) -> Silence:
    return Silence(
        row["id"],
        row["kind"],
        json.loads(row["matchers"]),
        datetime.fromisoformat(row["starts_at"]),
        datetime.fromisoformat(row["ends_at"]),
        row["reason"],
        row["component"],
        row["created_by"],
        datetime.fromisoformat(row["created_at"]),
        _parse(row["ended_at"]),
    )


def _heartbeat(row: dict[str, Any]) -> Heartbeat:
    return Heartbeat(row["name"], _parse(row["last_beat"]), _parse(row["missed_since"]))


class AlertStore(StoreBase):
    def alert(self, source: str, fingerprint: str) -> Alert | None:
        sql = "SELECT * FROM alerts WHERE source = ? AND fingerprint = ?"
        with self._connect() as db:
            rows = _query(db, sql, [source, fingerprint])
        return _alert(rows[0]) if rows else None

    def save_alert(self, alert: dict[str, Any]) -> int:
        """Insert or update by (source, fingerprint); returns the row id."""
        row = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in alert.items()}
        with self._write() as db:
            found = _sql(
                db,
                "SELECT id FROM alerts WHERE source = ? AND fingerprint = ?",
                [row["source"], row["fingerprint"]],
            ).fetchone()
            if found:
                names = [k for k in row if k not in ("source", "fingerprint")]
                sets = ", ".join(f"{k} = ?" for k in names)
                _sql(
                    db,
                    f"UPDATE alerts SET {sets} WHERE id = ?",
                    [_cell(row[k]) for k in names] + [found[0]],
                )
                return int(found[0])
            return int(_insert(db, "alerts", row).lastrowid or 0)

    def alert_changes(self, alert_id: int, incident: int) -> int:
        """How many entries this alert has made on this incident's timeline (numbers the next
        one's source, which is unique per incident). Searched within the incident, by index,
        not across every timeline: an alert flood asks this once per alert."""
        sql = "SELECT COUNT(*) FROM timeline WHERE incident_id = ? AND source LIKE ?"
        with self._connect() as db:
            return int(_sql(db, sql, [incident, f"alert:{alert_id}:%"]).one()[0])

    def alerts(self, *, firing_only: bool = True, incident: int | None = None) -> list[Alert]:
        clauses, args = [], []
        if firing_only:  # firing, or acknowledged at its source: not resolved
            clauses.append("status != 'resolved'")
        if incident is not None:
            clauses.append("incident_id = ?")
            args.append(incident)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._connect() as db:
            rows = _query(db, f"SELECT * FROM alerts {where} ORDER BY source, id", args)
        return [_alert(r) for r in rows]

    def group_incident(self, source: str, group_key: str, since: datetime) -> int | None:
        """The incident an alert of this group joined lately, if it is still open."""
        sql = (
            "SELECT a.incident_id FROM alerts a JOIN incidents i ON i.id = a.incident_id "
            "WHERE a.source = ? AND a.group_key = ? AND a.last_seen >= ? "
            "AND i.status != 'resolved' ORDER BY a.last_seen DESC LIMIT 1"
        )
        with self._connect() as db:
            found = _sql(db, sql, [source, group_key, _iso(since)]).fetchone()
        return int(found[0]) if found else None

    def taken_in(self, incident: int) -> tuple[int, int]:
        """How many alerts are on this incident, and in how many groups."""
        sql = "SELECT COUNT(*), COUNT(DISTINCT group_key) FROM alerts WHERE incident_id = ?"
        with self._connect() as db:
            found = _sql(db, sql, [incident]).one()
            alerts, groups = tuple(found)
        return int(alerts), int(groups)

    def count_alerts(self, source: str, now: datetime, alerts: int) -> int:
        """Count `alerts` arriving from `source` at `now`; returns how many came in the minute
        before them. Kept here, so every process on this database counts the same."""
        second = int(now.timestamp())
        with self._write() as db:
            # older than the minute, or ahead of a clock stepped back: no longer counted
            _sql(
                db,
                "DELETE FROM alert_rate WHERE source = ? AND (second <= ? OR second > ?)",
                [source, second - 60, second],
            )
            (before,) = _sql(
                db, "SELECT coalesce(sum(alerts), 0) FROM alert_rate WHERE source = ?", [source]
            ).one()
            _sql(
                db,
                "INSERT INTO alert_rate (source, second, alerts) VALUES (?, ?, ?) "
                "ON CONFLICT (source, second) DO UPDATE SET alerts = alerts + excluded.alerts",
                [source, second, alerts],
            )
        return int(before)

    def recent_alerts(self, source: str, since: datetime) -> list[Alert]:
        sql = "SELECT * FROM alerts WHERE source = ? AND last_seen >= ? ORDER BY last_seen DESC"
        with self._connect() as db:
            return [_alert(r) for r in _query(db, sql, [source, _iso(since)])]

    # Silences and maintenance windows -----------------------------------------------------

    def add_silence(self, row: dict[str, Any]) -> int:
        stored = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}
        with self._write() as db:
            return int(_insert(db, "alert_silences", stored).lastrowid or 0)

    def silences(self, now: datetime, kind: str | None = None) -> list[Silence]:
        """Those in force now or to come, oldest first."""
        sql = "SELECT * FROM alert_silences WHERE ended_at IS NULL AND ends_at > ?"
        args: list[Any] = [_iso(now)]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        with self._connect() as db:
            rows = _query(db, sql + " ORDER BY id", args)
        return [_silence(r) for r in rows]

    def end_silence(self, silence_id: int, now: datetime) -> bool:
        sql = "UPDATE alert_silences SET ended_at = ? WHERE id = ? AND ended_at IS NULL"
        with self._write() as db:
            return _sql(db, sql, [_iso(now), silence_id]).rowcount > 0

    # Heartbeats ---------------------------------------------------------------------------

    def beat(self, name: str, now: datetime) -> datetime | None:
        """Record a beat; returns when it had been missed since (None when it was not)."""
        with self._write() as db:
            found = _sql(
                db, "SELECT missed_since FROM heartbeats WHERE name = ?", [name]
            ).fetchone()
            _sql(
                db,
                "INSERT INTO heartbeats (name, last_beat, missed_since) VALUES (?, ?, NULL) "
                "ON CONFLICT (name) DO UPDATE SET last_beat = excluded.last_beat, "
                "missed_since = NULL",
                [name, _iso(now)],
            )
        return _parse(found[0]) if found else None

    def heartbeat(self, name: str) -> Heartbeat | None:
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM heartbeats WHERE name = ?", [name])
        return _heartbeat(rows[0]) if rows else None

    def mark_missed(self, name: str, since: datetime) -> bool:
        """True the first time a beat is found missing (once per miss)."""
        with self._write() as db:
            _sql(
                db,
                "INSERT INTO heartbeats (name, last_beat, missed_since) VALUES (?, NULL, NULL) "
                "ON CONFLICT (name) DO NOTHING",
                [name],
            )
            return (
                _sql(
                    db,
                    "UPDATE heartbeats SET missed_since = ? WHERE name = ? "
                    "AND missed_since IS NULL",
                    [_iso(since), name],
                ).rowcount
                > 0
            )
