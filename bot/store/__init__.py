"""opsbot's store: SQLAlchemy Core on SQLite (a file, the default) or PostgreSQL
(OPSBOT_DATABASE_URL); the only package that writes SQL.

Connections come from the engine's pool. On SQLite, WAL lets readers run beside the one
writer, every write opens with BEGIN IMMEDIATE so two writers queue instead of failing
half-way, and synchronous=FULL means a commit the user has been told about survives a
crash; on PostgreSQL a write locks the rows it claims. Every claim is one statement (or a
row lock), so it holds between processes without a lock of this one's.

A newcomer's map. `Store` (here) is the database's own: transactions, small state, upgrades
(base.py, engines.py: what differs between the engines, upgrade.py: the schema brought up
to date at start-up, schema/: the tables, the migrations and the revisions both engines
share). Each domain is a repository on it, one per module: store.incidents (incidents.py:
incidents, timelines, timers, public updates), store.followups (followup.py: action items,
post-mortems), store.people (display names), store.oncall, store.health (readings, alert
episodes), store.security (audits), store.backups (backups, the care log),
store.rollbacks, store.digests (digests and review marks), store.jobs (job_runs.py:
scheduled runs and their claims), store.outbox (effects owed to Slack and third parties),
store.inbox (Slack events to process; queues.py: what the two share), store.alerts
(alerts, silences, heartbeats, storm counters), store.leases (leases.py: which process
leads; fence.py: how its writes check that it still does).
"""

from __future__ import annotations

from pathlib import Path

from bot.store.alerts import Alert, AlertStore, Heartbeat, Silence
from bot.store.answers import answered, answering
from bot.store.backups import Backup, BackupStore, CareEntry
from bot.store.base import (
    BUSY_TIMEOUT_MS,
    WRITE_BUDGET_SECONDS,
    CannotUpgrade,
    NewerDatabase,
    Replayed,
    StoreBase,
    StoreBusy,
    StoreUnwritable,
    serve_lock,
)
from bot.store.digests import Digest, DigestMark, DigestStore
from bot.store.engines import DatabaseUnreachable
from bot.store.fence import Fence, NotLeading, fenced
from bot.store.followup import ActionItem, FollowUpStore, Postmortem
from bot.store.health import Episode, HealthStore, Reading
from bot.store.inbox import InboxEvent, InboxStore
from bot.store.incident_rows import (
    Change,
    Changed,
    Edit,
    Entry,
    Incident,
    Page,
    PublicUpdate,
    Timer,
)
from bot.store.incidents import IncidentStore
from bot.store.job_runs import JobRun, JobRunStore
from bot.store.leases import Lease, LeaseStore
from bot.store.oncall import OnCallAuditEntry, OnCallStore, Override, Swap
from bot.store.outbox import Effect, Head, OutboxStore
from bot.store.people import PeopleStore
from bot.store.rollbacks import Rollback, RollbackStore
from bot.store.rooms import RoomStore
from bot.store.schema import migrations
from bot.store.security import SecurityFinding, SecurityRun, SecurityStore
from bot.store.sql import now_utc
from bot.store.upgrade import UpgradeStore


class Store(UpgradeStore):
    """Everything opsbot keeps, in one SQLite file or one PostgreSQL database: the
    database's own (transactions, small state, upgrades) and a repository per domain."""

    def __init__(self, where: Path | str) -> None:
        super().__init__(where)
        self.incidents = IncidentStore(self.db)  # incidents, timelines, timers, public updates
        self.followups = FollowUpStore(self.db)  # action items, post-mortems
        self.rooms = RoomStore(self.db)  # incident channels
        self.people = PeopleStore(self.db)  # display names
        self.oncall = OnCallStore(self.db)  # rotation, overrides, swaps and their audit
        self.health = HealthStore(self.db)  # readings, alert episodes
        self.security = SecurityStore(self.db)  # audits and their findings
        self.backups = BackupStore(self.db)  # backups, the care log
        self.rollbacks = RollbackStore(self.db)
        self.digests = DigestStore(self.db)  # digests and review marks
        self.jobs = JobRunStore(self.db)  # scheduled runs, their claims and leases
        self.outbox = OutboxStore(self.db)  # effects owed to Slack and third parties
        self.inbox = InboxStore(self.db)  # Slack events to process
        self.alerts = AlertStore(self.db)  # alerts, silences, heartbeats, storm counters
        self.leases = LeaseStore(self.db)  # who leads the processes sharing the database


__all__ = [
    "BUSY_TIMEOUT_MS",
    "CannotUpgrade",
    "DatabaseUnreachable",
    "ActionItem",
    "Backup",
    "CareEntry",
    "Change",
    "Digest",
    "DigestMark",
    "Effect",
    "Fence",
    "Lease",
    "NotLeading",
    "fenced",
    "Head",
    "InboxEvent",
    "JobRun",
    "Changed",
    "Entry",
    "Incident",
    "Page",
    "Postmortem",
    "Replayed",
    "Rollback",
    "SecurityFinding",
    "SecurityRun",
    "Store",
    "StoreBase",
    "StoreBusy",
    "StoreUnwritable",
    "Alert",
    "NewerDatabase",
    "answered",
    "answering",
    "serve_lock",
    "Timer",
    "WRITE_BUDGET_SECONDS",
    "migrations",
    "now_utc",
    "Override",
    "Swap",
    "OnCallAuditEntry",
    "Silence",
    "Heartbeat",
    "Reading",
    "Episode",
    "Edit",
    "PublicUpdate",
]
