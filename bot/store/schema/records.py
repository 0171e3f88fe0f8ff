"""What opsbot records: incidents and their timelines, on-call, health, backups, rollbacks,
digests and audits."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from bot.store.schema.columns import (
    id_key,
    int_column,
    metadata,
    partial_index,
    real_column,
    reference,
    text_column,
    text_columns,
)

incidents = Table(
    "incidents",
    metadata,
    id_key(),
    text_column("title", required=True),
    text_column("severity", required=True),
    text_column("status", required=True),
    text_column("commander"),
    text_column("opened_by", required=True),
    text_column("opened_at", required=True),
    *text_columns(
        "acked_at",
        "acked_by",
        "mitigated_at",
        "resolved_at",
        "resolved_by",
        "summary",
        "card_channel",
        "card_ts",
        "comms_lead",
        "breached_at",
        "public_title",
        "target_severity",
    ),
    int_column("target_minutes"),
    int_column("target_met"),
    # its own channel (bot/domain/incidents/room.py)
    *text_columns("room_id", "room_name", "room_card_ts", "room_archived_at", "room_problem"),
    text_column("opened_via"),  # hand, monitor, alerts, security (None: before the record)
    Index("idx_incidents_card_channel_card_ts", "card_channel", "card_ts"),
    Index("idx_incidents_status", "status"),
    partial_index("incidents_room", "room_id", where="room_id IS NOT NULL"),
)

timeline = Table(
    "timeline",
    metadata,
    id_key(),
    reference("incident_id", "incidents.id", required=True),
    text_column("at", required=True),
    text_column("actor"),
    text_column("kind", required=True),
    text_column("text", required=True),
    text_column("source"),
    text_column("edited_at"),
    int_column("seq"),
    Index("idx_timeline_incident_id_at", "incident_id", "at"),
    Index("idx_timeline_incident_id_source", "incident_id", "source", unique=True),
    Index("timeline_seq", "incident_id", "seq", unique=True),
)

timeline_edits = Table(
    "timeline_edits",
    metadata,
    id_key(),
    reference("entry_id", "timeline.id"),
    *text_columns("edited_at", "editor", "old_at", "old_text", "new_at", "new_text"),
)

timers = Table(
    "timers",
    metadata,
    reference("incident_id", "incidents.id", required=True),
    text_column("kind", required=True),
    text_column("due_at"),
    PrimaryKeyConstraint("incident_id", "kind"),
    Index("idx_timers_due_at", "due_at"),
)

public_updates = Table(
    "public_updates",
    metadata,
    id_key(),
    reference("incident_id", "incidents.id"),
    *text_columns("at", "text", "actor"),
    Index("idx_public_updates_incident_id_at", "incident_id", "at"),
)

action_items = Table(
    "action_items",
    metadata,
    id_key(),
    reference("incident_id", "incidents.id", required=True),
    text_column("owner"),
    text_column("text", required=True),
    text_column("due"),
    text_column("created_by"),
    text_column("created_at", required=True),
    text_column("done_at"),
)

postmortems = Table(
    "postmortems",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    *text_columns("markdown", "notice", "written_at"),
)

oncall_rotation = Table(
    "oncall_rotation",
    metadata,
    id_key(),
    *text_columns("members", "anchor", "updated_by", "updated_at"),
)

oncall_overrides = Table(
    "oncall_overrides",
    metadata,
    id_key(),
    text_column("user", required=True),
    text_column("starts_at", required=True),
    text_column("ends_at", required=True),
    *text_columns("reason", "created_by", "created_at"),
)

oncall_swaps = Table(
    "oncall_swaps",
    metadata,
    id_key(),
    *text_columns(
        "requester",
        "target",
        "give_start",
        "give_end",
        "take_start",
        "take_end",
        "status",
        "created_at",
        "decided_at",
    ),
)

oncall_audit = Table(
    "oncall_audit",
    metadata,
    id_key(),
    *text_columns("at", "actor", "action", "detail"),
)

health_readings = Table(
    "health_readings",
    metadata,
    id_key(),
    *text_columns("at", "check_name", "state"),
    real_column("value"),
    text_column("summary"),
    Index("idx_health_readings_check_name_at", "check_name", "at"),
)

health_episodes = Table(
    "health_episodes",
    metadata,
    id_key(),
    *text_columns("check_name", "state", "started_at", "ended_at", "channel", "ts"),
    int_column("incident_id"),
    int_column("ok_streak"),
)

backups = Table(
    "backups",
    metadata,
    id_key(),
    text_column("started_at", required=True),
    text_column("finished_at"),
    text_column("status", required=True),
    text_column("engine", required=True),
    text_column("database", required=True),
    text_column("path", required=True),
    int_column("size"),
    text_column("sha256"),
    *text_columns("counts", "reason", "error", "verified_at", "verify_result"),
    text_column("owner"),  # the process running it (bot/owners.py)
    partial_index("backups_one_running", "status", where="status = 'running'", unique=True),
)

care_log = Table(
    "care_log",
    metadata,
    id_key(),
    *text_columns("at", "actor", "action", "counts"),
)

rollbacks = Table(
    "rollbacks",
    metadata,
    id_key(),
    text_column("tag"),
    text_column("from_tag"),
    int_column("incident_id"),
    *text_columns(
        "requested_by",
        "approvals",
        "status",
        "created_at",
        "started_at",
        "finished_at",
        "steps",
        "channel",
        "ts",
        "thread_ts",
        "owner",  # the process running it (bot/owners.py)
    ),
    partial_index("rollbacks_one_running", "status", where="status = 'running'", unique=True),
)

digests = Table(
    "digests",
    metadata,
    id_key(),
    *text_columns("kind", "day", "channel", "ts", "posted_at", "sections"),
    Index("idx_digests_channel_ts", "channel", "ts"),
)

digest_marks = Table(
    "digest_marks",
    metadata,
    reference("digest_id", "digests.id", required=True),
    text_column("item", required=True),
    text_column("user", required=True),
    text_column("at"),
    PrimaryKeyConstraint("digest_id", "item", "user"),
)

security_runs = Table(
    "security_runs",
    metadata,
    id_key(),
    text_column("at"),
    text_column("summary"),
)

security_findings = Table(
    "security_findings",
    metadata,
    reference("run_id", "security_runs.id", required=True),
    text_column("fingerprint", required=True),
    *text_columns("check_name", "severity", "title"),
    PrimaryKeyConstraint("run_id", "fingerprint"),
)

people = Table(
    "people",
    metadata,
    Column("user_id", Text, primary_key=True),
    text_column("name"),
    text_column("looked_up_at", required=True),
    text_column("tz"),  # Slack's users.info tz (Europe/Berlin), for pages at their night
)
