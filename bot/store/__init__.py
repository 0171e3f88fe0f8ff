"""SQLite storage: the only package that imports sqlite-utils.

One connection per thread (listeners and jobs run on many threads and a sqlite3 connection
is bound to its thread). WAL lets readers run beside the one writer; every write opens with
BEGIN IMMEDIATE so two writers queue instead of failing half-way, and synchronous=FULL means
a commit the user has been told about survives a crash.

A newcomer's map: base.py (connections, transactions, small state), schema/ (migrations),
incidents.py, oncall.py, operations.py (health, backups, rollbacks, jobs, digests, audits),
queues.py (what the outbox and inbox share: claims, the backlog), outbox.py (effects owed
to Slack and third parties), inbox.py (Slack events to process),
people.py (display names).
"""

from __future__ import annotations

from bot.store.alerts import Alert, AlertStore
from bot.store.base import (
    BUSY_TIMEOUT_MS,
    WRITE_BUDGET_SECONDS,
    CannotUpgrade,
    NewerDatabase,
    Replayed,
    StoreBase,
    StoreBusy,
    StoreUnwritable,
    now_utc,
    serve_lock,
)
from bot.store.inbox import InboxEvent, InboxStore
from bot.store.incidents import (
    ActionItem,
    Change,
    Changed,
    Entry,
    Incident,
    IncidentStore,
    Postmortem,
    Timer,
)
from bot.store.oncall import OnCallStore
from bot.store.operations import OperationsStore
from bot.store.outbox import Effect, OutboxStore
from bot.store.people import PeopleStore
from bot.store.schema import migrations


class Store(
    IncidentStore,
    OnCallStore,
    OperationsStore,
    OutboxStore,
    InboxStore,
    AlertStore,
    PeopleStore,
):
    """Everything opsbot keeps, in one SQLite file."""


__all__ = [
    "BUSY_TIMEOUT_MS",
    "CannotUpgrade",
    "ActionItem",
    "Change",
    "Effect",
    "InboxEvent",
    "Changed",
    "Entry",
    "Incident",
    "Postmortem",
    "Replayed",
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
]
