"""Security audits: each run's summary and its findings by fingerprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from bot.store.base import Repository
from bot.store.schema.records import security_findings, security_runs
from bot.store.sql import _parse, _rows, cells, upsert


@dataclass(frozen=True)
class SecurityRun:
    id: int
    at: datetime
    summary: dict[str, Any]  # per check: its state and one-line summary
    fingerprints: set[str]  # of every finding of this run


@dataclass(frozen=True)
class SecurityFinding:
    run_id: int
    fingerprint: str
    check_name: str
    severity: str
    title: str


def _security_run(row: dict[str, Any], fingerprints: set[str]) -> SecurityRun:
    at = _parse(row["at"])
    assert at is not None
    return SecurityRun(row["id"], at, json.loads(row["summary"]), fingerprints)


def _fingerprints(db: Connection, run_id: int) -> set[str]:
    query = select(security_findings.c.fingerprint).where(security_findings.c.run_id == run_id)
    return set(db.execute(query).scalars())


def _security_finding(row: dict[str, Any]) -> SecurityFinding:
    return SecurityFinding(
        run_id=row["run_id"],
        fingerprint=row["fingerprint"],
        check_name=row["check_name"],
        severity=row["severity"],
        title=row["title"],
    )


class SecurityStore(Repository):
    def add_security_run(
        self, at: datetime, summary: dict[str, Any], findings: list[tuple[str, str, str, str]]
    ) -> int:
        run = cells({"at": at, "summary": summary})
        with self._write() as db:
            added = insert(security_runs).values(run).returning(security_runs.c.id)
            run_id: int = db.execute(added).scalar_one()
            rows = [
                {
                    "run_id": run_id,
                    "fingerprint": fingerprint,
                    "check_name": check,
                    "severity": severity,
                    "title": title,
                }
                for fingerprint, check, severity, title in findings
            ]
            if rows:  # a finding seen twice in one run is kept once
                db.execute(upsert(db, security_findings).on_conflict_do_nothing(), rows)
        return run_id

    def security_runs(self, limit: int = 2) -> list[SecurityRun]:
        """Newest first."""
        query = select(security_runs).order_by(security_runs.c.id.desc()).limit(limit)
        with self._connect() as db:
            rows = _rows(db.execute(query))
            return [_security_run(row, _fingerprints(db, row["id"])) for row in rows]

    def security_finding(self, run_id: int, mark: str) -> SecurityFinding | None:
        query = select(security_findings).where(
            security_findings.c.run_id == run_id, security_findings.c.fingerprint == mark
        )
        with self._connect() as db:
            rows = _rows(db.execute(query))
        return _security_finding(rows[0]) if rows else None
