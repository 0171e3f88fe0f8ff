"""The first schema (m001-m011): incidents and their timelines, on call, health, backups,
rollbacks, job runs, digests, security audits, public status."""

from __future__ import annotations

from sqlite_utils import Database

from bot.store.schema.registry import migrations


@migrations()
def m001_incidents(db: Database) -> None:
    db.table("incidents").create(
        {
            "id": int,
            "title": str,
            "severity": str,
            "status": str,
            "commander": str,
            "opened_by": str,
            "opened_at": str,
            "acked_at": str,
            "acked_by": str,
            "mitigated_at": str,
            "resolved_at": str,
            "resolved_by": str,
            "summary": str,
            "card_channel": str,
            "card_ts": str,
        },
        pk="id",
        not_null={"title", "severity", "status", "opened_by", "opened_at"},
    )
    db.table("incidents").create_index(["status"])
    db.table("incidents").create_index(["card_channel", "card_ts"])
    db.table("timeline").create(
        {
            "id": int,
            "incident_id": int,
            "at": str,
            "actor": str,
            "kind": str,
            "text": str,
            "source": str,
        },
        pk="id",
        foreign_keys=[("incident_id", "incidents", "id")],
        not_null={"incident_id", "at", "kind", "text"},
    )
    db.table("timeline").create_index(["incident_id", "at"])
    # A source (a Slack message, a button click) can put at most one entry on a timeline.
    db.table("timeline").create_index(["incident_id", "source"], unique=True)
    db.table("postmortems").create(
        {"incident_id": int, "markdown": str, "notice": str, "written_at": str},
        pk="incident_id",
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("seen_events").create({"event_id": str, "seen_at": str}, pk="event_id")


@migrations()
def m002_timers_roles_actions(db: Database) -> None:
    incidents = db.table("incidents")
    incidents.add_column("comms_lead", str)
    incidents.add_column("breached_at", str)
    db.table("timeline").add_column("edited_at", str)
    # Every edit of a timeline entry, with what it said before: the record must be auditable.
    db.table("timeline_edits").create(
        {
            "id": int,
            "entry_id": int,
            "edited_at": str,
            "editor": str,
            "old_at": str,
            "old_text": str,
            "new_at": str,
            "new_text": str,
        },
        pk="id",
        foreign_keys=[("entry_id", "timeline", "id")],
    )
    # One pending timer per incident and kind; due_at NULL means disarmed. Kept in SQLite so
    # an escalation or a reminder survives a restart.
    db.table("timers").create(
        {"incident_id": int, "kind": str, "due_at": str},
        pk=("incident_id", "kind"),
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("timers").create_index(["due_at"])
    db.table("action_items").create(
        {
            "id": int,
            "incident_id": int,
            "owner": str,
            "text": str,
            "due": str,
            "created_by": str,
            "created_at": str,
            "done_at": str,
        },
        pk="id",
        foreign_keys=[("incident_id", "incidents", "id")],
        not_null={"incident_id", "text", "created_at"},
    )


@migrations()
def m003_oncall(db: Database) -> None:
    db.table("oncall_rotation").create(
        {"id": int, "members": str, "anchor": str, "updated_by": str, "updated_at": str}, pk="id"
    )
    db.table("oncall_overrides").create(
        {
            "id": int,
            "user": str,
            "starts_at": str,
            "ends_at": str,
            "reason": str,
            "created_by": str,
            "created_at": str,
        },
        pk="id",
        not_null={"user", "starts_at", "ends_at"},
    )
    db.table("oncall_swaps").create(
        {
            "id": int,
            "requester": str,
            "target": str,
            "give_start": str,
            "give_end": str,
            "take_start": str,
            "take_end": str,
            "status": str,
            "created_at": str,
            "decided_at": str,
        },
        pk="id",
    )
    # Who changed the rotation, how and when: every set, override and swap.
    db.table("oncall_audit").create(
        {"id": int, "at": str, "actor": str, "action": str, "detail": str}, pk="id"
    )
    # Small facts the bot must remember across restarts (the last handover announced, ...).
    db.table("bot_state").create({"key": str, "value": str}, pk="key")


@migrations()
def m004_health(db: Database) -> None:
    db.table("health_readings").create(
        {"id": int, "at": str, "check_name": str, "state": str, "value": float, "summary": str},
        pk="id",
    )
    db.table("health_readings").create_index(["check_name", "at"])
    # One row per alert episode: the message that is updated in place until recovery.
    db.table("health_episodes").create(
        {
            "id": int,
            "check_name": str,
            "state": str,
            "started_at": str,
            "ended_at": str,
            "channel": str,
            "ts": str,
            "incident_id": int,
            "ok_streak": int,
        },
        pk="id",
    )


@migrations()
def m005_backups(db: Database) -> None:
    # A backup is "running" until it is proven "ok"; a crash leaves "running" rows that the
    # next start marks "failed". Only "ok" rows are ever offered for verify or restore.
    db.table("backups").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "engine": str,
            "database": str,
            "path": str,
            "size": int,
            "sha256": str,
            "counts": str,
            "reason": str,
            "error": str,
            "verified_at": str,
            "verify_result": str,
        },
        pk="id",
        not_null={"started_at", "status", "engine", "database", "path"},
    )


@migrations()
def m006_care_log(db: Database) -> None:
    # What database care deleted or archived, by whom: counts recorded before and after.
    db.table("care_log").create(
        {"id": int, "at": str, "actor": str, "action": str, "counts": str}, pk="id"
    )


@migrations()
def m007_rollbacks(db: Database) -> None:
    # One row per rollback. "running" doubles as the lock: a second one is refused while it
    # exists, and a crash leaves it, to be marked "interrupted" at the next start.
    db.table("rollbacks").create(
        {
            "id": int,
            "tag": str,
            "from_tag": str,
            "incident_id": int,
            "requested_by": str,
            "approvals": str,
            "status": str,
            "created_at": str,
            "started_at": str,
            "finished_at": str,
            "steps": str,
            "channel": str,
            "ts": str,
            "thread_ts": str,
        },
        pk="id",
    )


@migrations()
def m008_job_runs(db: Database) -> None:
    # One row per scheduled occurrence of a job: claimed before it runs, so a restart neither
    # repeats a run that happened nor loses one that was due.
    db.table("job_runs").create(
        {
            "job": str,
            "scheduled_for": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "summary": str,
        },
        pk=("job", "scheduled_for"),
    )


@migrations()
def m009_digests(db: Database) -> None:
    db.table("digests").create(
        {
            "id": int,
            "kind": str,
            "day": str,
            "channel": str,
            "ts": str,
            "posted_at": str,
            "sections": str,
        },
        pk="id",
    )
    db.table("digests").create_index(["channel", "ts"])
    # Who reviewed what (a check of a daily digest, or "all"), and checklist items done.
    db.table("digest_marks").create(
        {"digest_id": int, "item": str, "user": str, "at": str},
        pk=("digest_id", "item", "user"),
        foreign_keys=[("digest_id", "digests", "id")],
    )


@migrations()
def m010_security(db: Database) -> None:
    # Each audit's findings by fingerprint (never the secret itself), to mark what persists.
    db.table("security_runs").create({"id": int, "at": str, "summary": str}, pk="id")
    db.table("security_findings").create(
        {"run_id": int, "fingerprint": str, "check_name": str, "severity": str, "title": str},
        pk=("run_id", "fingerprint"),
        foreign_keys=[("run_id", "security_runs", "id")],
    )


@migrations()
def m011_public_status(db: Database) -> None:
    # What the public may see: a public title and public updates, written by the commander.
    db.table("incidents").add_column("public_title", str)
    db.table("public_updates").create(
        {"id": int, "incident_id": int, "at": str, "text": str, "actor": str},
        pk="id",
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("public_updates").create_index(["incident_id", "at"])
