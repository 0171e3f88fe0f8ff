"""The schema once, as SQLAlchemy Core tables: what the migrations in this package build on
SQLite, described so that it can be created on PostgreSQL as well.

tests/test_schema_tables.py holds it to the migrated SQLite schema, column by column and
index by index, so the two never drift apart. Times are ISO 8601 text in UTC with
microseconds, on both engines: they sort as text, and a copy from one engine to the other
moves them unchanged. JSON columns are text too.
"""

from __future__ import annotations

from sqlalchemy import (
    REAL,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _text(name: str, *, required: bool = False, default: str | None = None) -> Column[str]:
    server_default = text(f"'{default}'") if default is not None else None
    return Column(name, Text, nullable=not required, server_default=server_default)


def _int(name: str, *, required: bool = False, default: int | None = None) -> Column[int]:
    server_default = text(str(default)) if default is not None else None
    return Column(name, Integer, nullable=not required, server_default=server_default)


def _partial(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows where `where` holds, the same on both engines."""
    condition = text(where)
    return Index(name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition)


def _refers(name: str, target: str, *, required: bool = False) -> Column[int]:
    return Column(name, Integer, ForeignKey(target), nullable=not required)


incidents = Table(
    "incidents",
    metadata,
    _id(),
    _text("title", required=True),
    _text("severity", required=True),
    _text("status", required=True),
    _text("commander"),
    _text("opened_by", required=True),
    _text("opened_at", required=True),
    _text("acked_at"),
    _text("acked_by"),
    _text("mitigated_at"),
    _text("resolved_at"),
    _text("resolved_by"),
    _text("summary"),
    _text("card_channel"),
    _text("card_ts"),
    _text("comms_lead"),
    _text("breached_at"),
    _text("public_title"),
    _text("target_severity"),
    _int("target_minutes"),
    _int("target_met"),
    Index("idx_incidents_card_channel_card_ts", "card_channel", "card_ts"),
    Index("idx_incidents_status", "status"),
)

timeline = Table(
    "timeline",
    metadata,
    _id(),
    _refers("incident_id", "incidents.id", required=True),
    _text("at", required=True),
    _text("actor"),
    _text("kind", required=True),
    _text("text", required=True),
    _text("source"),
    _text("edited_at"),
    _int("seq"),
    Index("idx_timeline_incident_id_at", "incident_id", "at"),
    Index("idx_timeline_incident_id_source", "incident_id", "source", unique=True),
    Index("timeline_seq", "incident_id", "seq", unique=True),
)

timeline_edits = Table(
    "timeline_edits",
    metadata,
    _id(),
    _refers("entry_id", "timeline.id"),
    _text("edited_at"),
    _text("editor"),
    _text("old_at"),
    _text("old_text"),
    _text("new_at"),
    _text("new_text"),
)

timers = Table(
    "timers",
    metadata,
    _refers("incident_id", "incidents.id"),
    _text("kind"),
    _text("due_at"),
    PrimaryKeyConstraint("incident_id", "kind"),
    Index("idx_timers_due_at", "due_at"),
)

public_updates = Table(
    "public_updates",
    metadata,
    _id(),
    _refers("incident_id", "incidents.id"),
    _text("at"),
    _text("text"),
    _text("actor"),
    Index("idx_public_updates_incident_id_at", "incident_id", "at"),
)

action_items = Table(
    "action_items",
    metadata,
    _id(),
    _refers("incident_id", "incidents.id", required=True),
    _text("owner"),
    _text("text", required=True),
    _text("due"),
    _text("created_by"),
    _text("created_at", required=True),
    _text("done_at"),
)

postmortems = Table(
    "postmortems",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    _text("markdown"),
    _text("notice"),
    _text("written_at"),
)

bot_state = Table(
    "bot_state",
    metadata,
    Column("key", Text, primary_key=True),
    _text("value"),
)

seen_events = Table(
    "seen_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    _text("seen_at"),
)

oncall_rotation = Table(
    "oncall_rotation",
    metadata,
    _id(),
    _text("members"),
    _text("anchor"),
    _text("updated_by"),
    _text("updated_at"),
)

oncall_overrides = Table(
    "oncall_overrides",
    metadata,
    _id(),
    _text("user", required=True),
    _text("starts_at", required=True),
    _text("ends_at", required=True),
    _text("reason"),
    _text("created_by"),
    _text("created_at"),
)

oncall_swaps = Table(
    "oncall_swaps",
    metadata,
    _id(),
    _text("requester"),
    _text("target"),
    _text("give_start"),
    _text("give_end"),
    _text("take_start"),
    _text("take_end"),
    _text("status"),
    _text("created_at"),
    _text("decided_at"),
)

oncall_audit = Table(
    "oncall_audit",
    metadata,
    _id(),
    _text("at"),
    _text("actor"),
    _text("action"),
    _text("detail"),
)

health_readings = Table(
    "health_readings",
    metadata,
    _id(),
    _text("at"),
    _text("check_name"),
    _text("state"),
    Column("value", REAL),
    _text("summary"),
    Index("idx_health_readings_check_name_at", "check_name", "at"),
)

health_episodes = Table(
    "health_episodes",
    metadata,
    _id(),
    _text("check_name"),
    _text("state"),
    _text("started_at"),
    _text("ended_at"),
    _text("channel"),
    _text("ts"),
    _int("incident_id"),
    _int("ok_streak"),
)

backups = Table(
    "backups",
    metadata,
    _id(),
    _text("started_at", required=True),
    _text("finished_at"),
    _text("status", required=True),
    _text("engine", required=True),
    _text("database", required=True),
    _text("path", required=True),
    _int("size"),
    _text("sha256"),
    _text("counts"),
    _text("reason"),
    _text("error"),
    _text("verified_at"),
    _text("verify_result"),
    _partial("backups_one_running", "status", where="status = 'running'", unique=True),
)

care_log = Table(
    "care_log",
    metadata,
    _id(),
    _text("at"),
    _text("actor"),
    _text("action"),
    _text("counts"),
)

rollbacks = Table(
    "rollbacks",
    metadata,
    _id(),
    _text("tag"),
    _text("from_tag"),
    _int("incident_id"),
    _text("requested_by"),
    _text("approvals"),
    _text("status"),
    _text("created_at"),
    _text("started_at"),
    _text("finished_at"),
    _text("steps"),
    _text("channel"),
    _text("ts"),
    _text("thread_ts"),
    _partial("rollbacks_one_running", "status", where="status = 'running'", unique=True),
)

job_runs = Table(
    "job_runs",
    metadata,
    _text("job"),
    _text("scheduled_for"),
    _text("started_at"),
    _text("finished_at"),
    _text("status"),
    _text("summary"),
    _text("owner"),
    _text("lease_until"),
    PrimaryKeyConstraint("job", "scheduled_for"),
    _partial("job_runs_running", "status", where="status = 'running'"),
)

job_ticks = Table(
    "job_ticks",
    metadata,
    Column("job", Text, primary_key=True),
    _text("owner"),
    _text("next_at", required=True),
)

digests = Table(
    "digests",
    metadata,
    _id(),
    _text("kind"),
    _text("day"),
    _text("channel"),
    _text("ts"),
    _text("posted_at"),
    _text("sections"),
    Index("idx_digests_channel_ts", "channel", "ts"),
)

digest_marks = Table(
    "digest_marks",
    metadata,
    _refers("digest_id", "digests.id"),
    _text("item"),
    _text("user"),
    _text("at"),
    PrimaryKeyConstraint("digest_id", "item", "user"),
)

security_runs = Table(
    "security_runs",
    metadata,
    _id(),
    _text("at"),
    _text("summary"),
)

security_findings = Table(
    "security_findings",
    metadata,
    _refers("run_id", "security_runs.id"),
    _text("fingerprint"),
    _text("check_name"),
    _text("severity"),
    _text("title"),
    PrimaryKeyConstraint("run_id", "fingerprint"),
)

outbox = Table(
    "outbox",
    metadata,
    _id(),
    _text("kind", required=True),
    _text("lane", required=True),
    _text("payload", required=True),
    _int("incident_id"),
    _text("state", required=True, default="pending"),
    _text("created_at", required=True),
    _text("due_at", required=True),
    _int("attempts", required=True, default=0),
    _text("owner"),
    _text("lease_until"),
    _text("first_failed_at"),
    _text("last_error"),
    _text("finished_at"),
    _text("result"),
    _int("priority", required=True, default=0),
    _text("inflight_until"),
    _text("first_claimed_at"),
    _partial("outbox_incident", "incident_id", "kind", where="state = 'pending'"),
    _partial("outbox_pending", "lane", "id", where="state = 'pending'"),
    Index("outbox_state", "state", "id"),
    _partial("outbox_urgent", "lane", where="state = 'pending' AND priority > 0"),
)

inbox = Table(
    "inbox",
    metadata,
    _id(),
    Column("event_id", Text, nullable=False, unique=True),
    _text("body", required=True),
    _text("received_at", required=True),
    _text("state", required=True, default="pending"),
    _int("attempts", required=True, default=0),
    _text("owner"),
    _text("lease_until"),
    _text("last_error"),
    _text("due_at"),
    _text("first_failed_at"),
    _text("finished_at"),
    _partial("inbox_pending", "id", where="state = 'pending'"),
)

alerts = Table(
    "alerts",
    metadata,
    _id(),
    _text("source", required=True),
    _text("fingerprint", required=True),
    _text("status", required=True),
    _text("severity"),
    _text("summary", required=True),
    _text("labels", required=True, default="{}"),
    _text("group_key", required=True),
    _text("url"),
    _int("incident_id"),
    _int("silenced_by"),
    _text("first_seen", required=True),
    _text("last_seen", required=True),
    _text("resolved_at"),
    _int("repeats", required=True, default=0),
    UniqueConstraint("source", "fingerprint"),
    Index("alerts_group", "source", "group_key", "last_seen"),
    Index("alerts_incident", "incident_id"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    _id(),
    _text("kind", required=True),
    _text("matchers", required=True),
    _text("starts_at", required=True),
    _text("ends_at", required=True),
    _text("reason", required=True),
    _text("component"),
    _text("created_by", required=True),
    _text("created_at", required=True),
    _text("ended_at"),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", Text, primary_key=True),
    _text("last_beat"),
    _text("missed_since"),
)

people = Table(
    "people",
    metadata,
    Column("user_id", Text, primary_key=True),
    _text("name"),
    _text("looked_up_at", required=True),
)

alert_rate = Table(
    "alert_rate",
    metadata,
    _text("source", required=True),
    _int("second", required=True),
    _int("alerts", required=True),
    PrimaryKeyConstraint("source", "second"),
)

slack_pace = Table(
    "slack_pace",
    metadata,
    Column("channel", Text, primary_key=True),
    Column("tokens", REAL, nullable=False),
    Column("since", REAL, nullable=False),
)
