"""Alerts from monitoring, silences and maintenance windows, heartbeats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from bot.store.base import Repository
from bot.store.schema.records import incidents, timeline
from bot.store.schema.work import alert_rate, alert_silences, heartbeats
from bot.store.schema.work import alerts as alert_rows
from bot.store.sql import _iso, _parse, _rows, cells, upsert


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


class AlertStore(Repository):
    def alert(self, source: str, fingerprint: str) -> Alert | None:
        query = select(alert_rows).where(
            alert_rows.c.source == source, alert_rows.c.fingerprint == fingerprint
        )
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return _alert(rows[0]) if rows else None

    def save_alert(self, alert: dict[str, Any]) -> int:
        """Insert or update by (source, fingerprint); returns the row id. One statement, so
        two deliveries of one alert at once (PostgreSQL) update it rather than collide."""
        row = cells(alert)
        with self._write() as db:
            save = upsert(db, alert_rows).values(row)
            changes = {k: save.excluded[k] for k in row if k not in ("source", "fingerprint")}
            save = save.on_conflict_do_update(
                index_elements=["source", "fingerprint"], set_=changes
            )
            return int(db.execute(save.returning(alert_rows.c.id)).scalar_one())

    def alert_changes(self, alert_id: int, incident: int) -> int:
        """How many entries this alert has made on this incident's timeline (numbers the next
        one's source, which is unique per incident). Searched within the incident, by index,
        not across every timeline: an alert flood asks this once per alert."""
        query = select(func.count()).where(
            timeline.c.incident_id == incident, timeline.c.source.like(f"alert:{alert_id}:%")
        )
        with self._connect() as db:
            return int(db.execute(query).scalar_one())

    def find(self, *, firing_only: bool = True, incident: int | None = None) -> list[Alert]:
        query = select(alert_rows).order_by(alert_rows.c.source, alert_rows.c.id)
        if firing_only:  # firing, or acknowledged at its source: not resolved
            query = query.where(alert_rows.c.status != "resolved")
        if incident is not None:
            query = query.where(alert_rows.c.incident_id == incident)
        with self._connect() as db:
            return [_alert(r) for r in _rows(db.execute(query))]

    def seen_since(self, since: datetime) -> list[Alert]:
        """The alerts that fired or repeated at or after `since`, oldest first."""
        query = select(alert_rows).where(alert_rows.c.last_seen >= _iso(since))
        with self._connect() as db:
            return [_alert(r) for r in _rows(db.execute(query.order_by(alert_rows.c.id)))]

    def group_incident(self, source: str, group_key: str, since: datetime) -> int | None:
        """The incident an alert of this group joined lately, if it is still open."""
        query = (
            select(alert_rows.c.incident_id)
            .join(incidents, incidents.c.id == alert_rows.c.incident_id)
            .where(
                alert_rows.c.source == source,
                alert_rows.c.group_key == group_key,
                alert_rows.c.last_seen >= _iso(since),
                incidents.c.status != "resolved",
            )
            .order_by(alert_rows.c.last_seen.desc())
            .limit(1)
        )
        with self._connect() as db:
            found = db.execute(query).scalar()
        return int(found) if found is not None else None

    def taken_in(self, incident: int) -> tuple[int, int]:
        """How many alerts are on this incident, and in how many groups."""
        query = select(func.count(), func.count(alert_rows.c.group_key.distinct())).where(
            alert_rows.c.incident_id == incident
        )
        with self._connect() as db:
            taken, groups = tuple(db.execute(query).one())
        return int(taken), int(groups)

    def count_alerts(self, source: str, now: datetime, alerts: int) -> int:
        """Count `alerts` arriving from `source` at `now`; returns how many came in the minute
        before them. Kept here, so every process on this database counts the same."""
        second = int(now.timestamp())
        mine = alert_rate.c.source == source
        with self._write() as db:
            # older than the minute, or ahead of a clock stepped back: no longer counted
            stale = (alert_rate.c.second <= second - 60) | (alert_rate.c.second > second)
            db.execute(delete(alert_rate).where(mine, stale))
            before = db.execute(
                select(func.coalesce(func.sum(alert_rate.c.alerts), 0)).where(mine)
            ).scalar_one()
            count = upsert(db, alert_rate).values(source=source, second=second, alerts=alerts)
            db.execute(
                count.on_conflict_do_update(
                    index_elements=["source", "second"],
                    set_={"alerts": alert_rate.c.alerts + count.excluded.alerts},
                )
            )
        return int(before)

    def recent_alerts(self, source: str, since: datetime) -> list[Alert]:
        query = (
            select(alert_rows)
            .where(alert_rows.c.source == source, alert_rows.c.last_seen >= _iso(since))
            .order_by(alert_rows.c.last_seen.desc())
        )
        with self._connect() as db:
            return [_alert(r) for r in _rows(db.execute(query))]

    # Silences and maintenance windows -----------------------------------------------------

    def add_silence(self, row: dict[str, Any]) -> int:
        stored = cells(row)
        add = insert(alert_silences).values(stored).returning(alert_silences.c.id)
        with self._write() as db:
            return int(db.execute(add).scalar_one())

    def silences(self, now: datetime, kind: str | None = None) -> list[Silence]:
        """Those in force now or to come, oldest first."""
        query = select(alert_silences).where(
            alert_silences.c.ended_at.is_(None), alert_silences.c.ends_at > _iso(now)
        )
        if kind:
            query = query.where(alert_silences.c.kind == kind)
        with self._connect() as db:
            rows = _rows(db.execute(query.order_by(alert_silences.c.id)))
        return [_silence(r) for r in rows]

    def end_silence(self, silence_id: int, now: datetime) -> bool:
        end = (
            update(alert_silences)
            .where(alert_silences.c.id == silence_id, alert_silences.c.ended_at.is_(None))
            .values(ended_at=_iso(now))
        )
        with self._write() as db:
            return db.execute(end).rowcount > 0

    # Heartbeats ---------------------------------------------------------------------------

    def beat(self, name: str, now: datetime) -> datetime | None:
        """Record a beat; returns when it had been missed since (None when it was not)."""
        with self._write() as db:
            found = db.execute(
                select(heartbeats.c.missed_since).where(heartbeats.c.name == name)
            ).first()
            beat = upsert(db, heartbeats).values(name=name, last_beat=_iso(now), missed_since=None)
            db.execute(
                beat.on_conflict_do_update(
                    index_elements=["name"],
                    set_={"last_beat": beat.excluded.last_beat, "missed_since": None},
                )
            )
        return _parse(found[0]) if found else None

    def heartbeat(self, name: str) -> Heartbeat | None:
        with self._connect() as db:
            rows = _rows(db.execute(select(heartbeats).where(heartbeats.c.name == name)))
        return _heartbeat(rows[0]) if rows else None

    def mark_missed(self, name: str, since: datetime) -> bool:
        """True the first time a beat is found missing (once per miss)."""
        with self._write() as db:
            known = upsert(db, heartbeats).values(name=name, last_beat=None, missed_since=None)
            db.execute(known.on_conflict_do_nothing())
            missed = (
                update(heartbeats)
                .where(heartbeats.c.name == name, heartbeats.c.missed_since.is_(None))
                .values(missed_since=_iso(since))
            )
            return db.execute(missed).rowcount > 0
