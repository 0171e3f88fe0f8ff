"""SQLite storage: the only package that imports sqlite-utils.

One connection per thread (listeners and jobs run on many threads and a sqlite3 connection
is bound to its thread). WAL lets readers run beside the one writer; every write opens with
BEGIN IMMEDIATE so two writers queue instead of failing half-way, and synchronous=FULL means
a commit the user has been told about survives a crash.

A newcomer's map, one mixin of Store per module: base.py (connections, transactions, small
state), upgrade.py (the schema brought up to date at start-up, a copy first), schema/
(migrations, and the same schema as SQLAlchemy tables), incidents.py (incidents, timelines,
timers, public updates), followup.py (action items, post-mortems), oncall.py, health.py
(readings, alert episodes), backups.py (backups, the care log), rollbacks.py, job_runs.py
(scheduled runs and their claims), digests.py (digests and review marks), security.py
(audits), queues.py (what the outbox and inbox share: claims, the backlog), outbox.py
(effects owed to Slack and third parties), inbox.py (Slack events to process), alerts.py
(alerts, silences, heartbeats), people.py (display names).
"""

from __future__ import annotations

from bot.store.alerts import Alert, AlertStore, Heartbeat, Silence
from bot.store.backups import Backup, BackupStore, CareEntry
from bot.store.base import (
    BUSY_TIMEOUT_MS,
    WRITE_BUDGET_SECONDS,
    CannotUpgrade,
    DatabaseUnreachable,
    NewerDatabase,
    Replayed,
    StoreBase,
    StoreBusy,
    StoreUnwritable,
    now_utc,
    serve_lock,
)
from bot.store.digests import Digest, DigestMark, DigestStore
from bot.store.followup import ActionItem, FollowUpStore, Postmortem
from bot.store.health import Episode, HealthStore, Reading
from bot.store.inbox import InboxEvent, InboxStore
from bot.store.incidents import (
    Change,
    Changed,
    Edit,
    Entry,
    Incident,
    IncidentStore,
    PublicUpdate,
    Timer,
)
from bot.store.job_runs import JobRun, JobRunStore
from bot.store.oncall import OnCallAuditEntry, OnCallStore, Override, Swap
from bot.store.outbox import Effect, OutboxStore
from bot.store.people import PeopleStore
from bot.store.rollbacks import Rollback, RollbackStore
from bot.store.schema import migrations
from bot.store.security import SecurityFinding, SecurityRun, SecurityStore
from bot.store.upgrade import UpgradeStore


class Store(
    UpgradeStore,
    IncidentStore,
    FollowUpStore,
    OnCallStore,
    HealthStore,
    BackupStore,
    RollbackStore,
    JobRunStore,
    DigestStore,
    SecurityStore,
    OutboxStore,
    InboxStore,
    AlertStore,
    PeopleStore,
):
    """Everything opsbot keeps, in one SQLite file."""


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
    "InboxEvent",
    "JobRun",
    "Changed",
    "Entry",
    "Incident",
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
