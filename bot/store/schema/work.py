"""What opsbot works through and counts: the outbox and inbox, job runs and ticks, alerts,
silences and heartbeats, the shared counters, small state."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from bot.store.schema.columns import (
    id_key,
    int_column,
    metadata,
    partial_index,
    real_column,
    text_column,
    text_columns,
)

bot_state = Table(
    "bot_state",
    metadata,
    Column("key", Text, primary_key=True),
    text_column("value"),
)

seen_events = Table(
    "seen_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    text_column("seen_at"),
)

job_runs = Table(
    "job_runs",
    metadata,
    text_column("job", required=True),
    text_column("scheduled_for", required=True),
    *text_columns("started_at", "finished_at", "status", "summary", "owner", "lease_until"),
    PrimaryKeyConstraint("job", "scheduled_for"),
    partial_index("job_runs_running", "status", where="status = 'running'"),
)

# One row: who leads the processes sharing this database, under which fencing token (it
# grows at every change of hands), until when; times in epoch seconds by the database's clock.
leader_lease = Table(
    "leader_lease",
    metadata,
    id_key(),
    text_column("holder", required=True, default=""),
    int_column("token", required=True, default=0),
    real_column("acquired_at"),
    real_column("expires_at"),
)

job_ticks = Table(
    "job_ticks",
    metadata,
    Column("job", Text, primary_key=True),
    text_column("owner"),
    text_column("next_at", required=True),
)

outbox = Table(
    "outbox",
    metadata,
    id_key(),
    text_column("kind", required=True),
    text_column("lane", required=True),
    text_column("payload", required=True),
    int_column("incident_id"),
    text_column("state", required=True, default="pending"),
    text_column("created_at", required=True),
    text_column("due_at", required=True),
    int_column("attempts", required=True, default=0),
    *text_columns("owner", "lease_until", "first_failed_at", "last_error", "finished_at", "result"),
    int_column("priority", required=True, default=0),
    text_column("inflight_until"),
    text_column("first_claimed_at"),
    text_column("claimed_at"),  # this try's claim
    text_column("unsure"),  # earlier tries that may have reached Slack: "from/until ..."
    partial_index("outbox_incident", "incident_id", "kind", where="state = 'pending'"),
    partial_index("outbox_pending", "lane", "id", where="state = 'pending'"),
    Index("outbox_state", "state", "id"),
    partial_index("outbox_urgent", "lane", where="state = 'pending' AND priority > 0"),
    partial_index("outbox_owner", "owner", where="owner IS NOT NULL"),
)

inbox = Table(
    "inbox",
    metadata,
    id_key(),
    Column("event_id", Text, nullable=False, unique=True),
    text_column("body", required=True),
    text_column("received_at", required=True),
    text_column("state", required=True, default="pending"),
    int_column("attempts", required=True, default=0),
    *text_columns("owner", "lease_until", "last_error", "due_at", "first_failed_at", "finished_at"),
    partial_index("inbox_pending", "id", where="state = 'pending'"),
    partial_index("inbox_owner", "owner", where="owner IS NOT NULL"),
)

alerts = Table(
    "alerts",
    metadata,
    id_key(),
    text_column("source", required=True),
    text_column("fingerprint", required=True),
    text_column("status", required=True),
    text_column("severity"),
    text_column("summary", required=True),
    text_column("labels", required=True, default="{}"),
    text_column("group_key", required=True),
    text_column("url"),
    int_column("incident_id"),
    int_column("silenced_by"),
    text_column("first_seen", required=True),
    text_column("last_seen", required=True),
    text_column("resolved_at"),
    int_column("repeats", required=True, default=0),
    UniqueConstraint("source", "fingerprint"),
    Index("alerts_group", "source", "group_key", "last_seen"),
    Index("alerts_incident", "incident_id"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    id_key(),
    text_column("kind", required=True),
    text_column("matchers", required=True),
    text_column("starts_at", required=True),
    text_column("ends_at", required=True),
    text_column("reason", required=True),
    text_column("component"),
    text_column("created_by", required=True),
    text_column("created_at", required=True),
    text_column("ended_at"),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", Text, primary_key=True),
    text_column("last_beat"),
    text_column("missed_since"),
)

alert_rate = Table(
    "alert_rate",
    metadata,
    text_column("source", required=True),
    int_column("second", required=True),
    int_column("alerts", required=True),
    PrimaryKeyConstraint("source", "second"),
)

slack_pace = Table(
    "slack_pace",
    metadata,
    Column("channel", Text, primary_key=True),
    real_column("tokens", required=True),
    real_column("since", required=True),
)
