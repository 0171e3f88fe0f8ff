"""Security audits: each run's summary and its findings by fingerprint."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.store.base import StoreBase, _insert, _iso, _query


class SecurityStore(StoreBase):
    def add_security_run(
        self, at: datetime, summary: dict[str, Any], findings: list[tuple[str, str, str, str]]
    ) -> int:
        with self._write() as db:
            run_id = _insert(db, "security_runs", {"at": _iso(at), "summary": summary}).lastrowid
            assert run_id is not None
            for fingerprint, check, severity, title in findings:
                db.execute(
                    "INSERT OR IGNORE INTO security_findings VALUES (?, ?, ?, ?, ?)",
                    [run_id, fingerprint, check, severity, title],
                )
        return run_id

    def security_runs(self, limit: int = 2) -> list[dict[str, Any]]:
        with self._connect() as db:
            runs = _query(db, "SELECT * FROM security_runs ORDER BY id DESC LIMIT ?", [limit])
            for run in runs:
                run["summary"] = json.loads(run["summary"])
                run["fingerprints"] = {
                    r["fingerprint"]
                    for r in _query(
                        db,
                        "SELECT fingerprint FROM security_findings WHERE run_id = ?",
                        [run["id"]],
                    )
                }
        return runs

    def security_finding(self, run_id: int, mark: str) -> dict[str, Any] | None:
        with self._connect() as db:
            rows = _query(
                db,
                "SELECT * FROM security_findings WHERE run_id = ? AND fingerprint = ?",
                [run_id, mark],
            )
        return rows[0] if rows else None
