"""Security audits: each run's summary and its findings by fingerprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from bot.store.base import StoreBase, _insert, _iso, _parse, _query, _sql


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
    sql = "SELECT fingerprint FROM security_findings WHERE run_id = ?"
    return {row["fingerprint"] for row in _query(db, sql, [run_id])}


def _security_finding(row: dict[str, Any]) -> SecurityFinding:
    return SecurityFinding(
        run_id=row["run_id"],
        fingerprint=row["fingerprint"],
        check_name=row["check_name"],
        severity=row["severity"],
        title=row["title"],
    )


class SecurityStore(StoreBase):
    def add_security_run(
        self, at: datetime, summary: dict[str, Any], findings: list[tuple[str, str, str, str]]
    ) -> int:
        with self._write() as db:
            run_id = _insert(db, "security_runs", {"at": _iso(at), "summary": summary}).lastrowid
            assert run_id is not None
            for fingerprint, check, severity, title in findings:
                _sql(
                    db,
                    "INSERT OR IGNORE INTO security_findings VALUES (?, ?, ?, ?, ?)",
                    [run_id, fingerprint, check, severity, title],
                )
        return run_id

    def security_runs(self, limit: int = 2) -> list[SecurityRun]:
        """Newest first."""
        with self._connect() as db:
            rows = _query(db, "SELECT * FROM security_runs ORDER BY id DESC LIMIT ?", [limit])
            return [_security_run(row, _fingerprints(db, row["id"])) for row in rows]

    def security_finding(self, run_id: int, mark: str) -> SecurityFinding | None:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT * FROM security_findings WHERE run_id = ? AND fingerprint = ?",
                [run_id, mark],
            )
        return _security_finding(rows[0]) if rows else None
