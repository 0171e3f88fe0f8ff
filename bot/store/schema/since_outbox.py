"""The schema from the outbox on (m012-): the outbox and inbox, timeline numbers, alerts,
the response target's record, people, and claims that survive a crash."""

from __future__ import annotations

from sqlite_utils import Database

from bot.store.schema import initial  # noqa: F401  (m001-m011 register first, whoever imports)
from bot.store.schema.registry import BASELINE_REVISION, migrations


@migrations()
def m012_outbox_inbox(db: Database) -> None:
    # Every effect owed to the outside world, written in the transaction of the change that
    # owes it. A row is delivered by whichever process claims it (owner + lease), one row at
    # a time per lane, in id order: a lane is a Slack channel or one third party.
    db.execute(
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            lane TEXT NOT NULL,
            payload TEXT NOT NULL,
            incident_id INTEGER,
            state TEXT NOT NULL DEFAULT 'pending',
            created_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            lease_until TEXT,
            first_failed_at TEXT,
            last_error TEXT,
            finished_at TEXT,
            result TEXT
        )"""
    )
    db.execute("CREATE INDEX outbox_pending ON outbox (lane, id) WHERE state = 'pending'")
    db.execute("CREATE INDEX outbox_state ON outbox (state, id)")
    db.execute("CREATE INDEX outbox_incident ON outbox (incident_id, kind) WHERE state = 'pending'")
    # Events API deliveries, stored before Slack gets its 200 and processed from here.
    db.execute(
        """CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,
            received_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            lease_until TEXT,
            last_error TEXT
        )"""
    )
    db.execute("CREATE INDEX inbox_pending ON inbox (id) WHERE state = 'pending'")


@migrations()
def m013_timeline_numbers(db: Database) -> None:
    # Timeline entries are numbered per incident (#1, #2, ... on each), not by the global row
    # id: `/incident edit INC-4 #3` means INC-4's third entry.
    db.execute("ALTER TABLE timeline ADD COLUMN seq INTEGER")
    db.execute(
        "UPDATE timeline SET seq = (SELECT COUNT(*) FROM timeline AS t "
        "WHERE t.incident_id = timeline.incident_id AND t.id <= timeline.id)"
    )
    db.execute("CREATE UNIQUE INDEX timeline_seq ON timeline (incident_id, seq)")


@migrations()
def m014_alerts(db: Database) -> None:
    # One row per alert (a source's fingerprint or dedup_key): repeats update it.
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            severity TEXT,
            summary TEXT NOT NULL,
            labels TEXT NOT NULL DEFAULT '{}',
            group_key TEXT NOT NULL,
            url TEXT,
            incident_id INTEGER,
            silenced_by INTEGER,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            resolved_at TEXT,
            repeats INTEGER NOT NULL DEFAULT 0,
            UNIQUE (source, fingerprint)
        )"""
    )
    db.execute("CREATE INDEX alerts_group ON alerts (source, group_key, last_seen)")
    db.execute("CREATE INDEX alerts_incident ON alerts (incident_id)")
    db.execute(
        """CREATE TABLE alert_silences (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            matchers TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            component TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            ended_at TEXT
        )"""
    )
    db.execute("CREATE TABLE heartbeats (name TEXT PRIMARY KEY, last_beat TEXT, missed_since TEXT)")


@migrations()
def m015_response_target_record(db: Database) -> None:
    # The response target's result as it was decided (at the acknowledgement, or when it was
    # missed): the severity then, its target then, met or not. A later change of severity
    # no longer rewrites it. NULL on older incidents: they are judged as before.
    incidents = db.table("incidents")
    incidents.add_column("target_severity", str)
    incidents.add_column("target_minutes", int)
    incidents.add_column("target_met", int)


@migrations()
def m016_people(db: Database) -> None:
    # Display names from users.info, so files that leave Slack (the post-mortem) name people:
    # looked up once each; name NULL when Slack could not say, asked again a day later.
    db.execute(
        """CREATE TABLE people (
            user_id TEXT PRIMARY KEY,
            name TEXT,
            looked_up_at TEXT NOT NULL
        )"""
    )


@migrations()
def m017_claims_that_survive(db: Database) -> None:
    # Outbox: pages go before other rows of their channel (priority); a row's last claim
    # says how long a request it made may still land at Slack (inflight_until), so a
    # restart after a crash looks for it only once it would have landed.
    db.execute("ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE outbox ADD COLUMN inflight_until TEXT")
    # ... and when it was first tried: an earlier try's post is looked for from then on.
    db.execute("ALTER TABLE outbox ADD COLUMN first_claimed_at TEXT")
    db.execute(
        "CREATE INDEX outbox_urgent ON outbox (lane) WHERE state = 'pending' AND priority > 0"
    )
    # Inbox: a failed event is tried again with backoff (due_at) until it works or is given
    # up on (dead), like an outbox row; first_failed_at measures how long it has failed.
    db.execute("ALTER TABLE inbox ADD COLUMN due_at TEXT")
    db.execute("ALTER TABLE inbox ADD COLUMN first_failed_at TEXT")
    db.execute("ALTER TABLE inbox ADD COLUMN finished_at TEXT")
    db.execute("UPDATE inbox SET state = 'dead' WHERE state = 'failed'")
    # Job runs: who runs an occurrence, and until when that claim holds unless renewed, so
    # a run cut short (kill -9, a lost host) is found and run again.
    db.execute("ALTER TABLE job_runs ADD COLUMN owner TEXT")
    db.execute("ALTER TABLE job_runs ADD COLUMN lease_until TEXT")
    db.execute("CREATE INDEX job_runs_running ON job_runs (status) WHERE status = 'running'")


@migrations()
def m018_one_running_by_index(db: Database) -> None:
    # One rollback and one backup at a time is a unique index, not a read before a write: a
    # check-then-insert is a race between two processes wherever reads do not wait for the
    # writer (PostgreSQL's default isolation). A file with two left running (never written
    # by opsbot, which held one at a time) keeps the newest as running.
    for table in ("rollbacks", "backups"):
        db.execute(
            f"UPDATE {table} SET status = 'interrupted' WHERE status = 'running' "
            f"AND id < (SELECT max(id) FROM {table} WHERE status = 'running')"
        )
        db.execute(
            f"CREATE UNIQUE INDEX {table}_one_running ON {table} (status) WHERE status = 'running'"
        )


@migrations()
def m019_interval_ticks(db: Database) -> None:
    # An interval job's tick is claimed, so two processes on one database run it once per
    # interval between them: who ran it last, and from when the next tick may run.
    db.execute(
        """CREATE TABLE job_ticks (
            job TEXT PRIMARY KEY,
            owner TEXT,
            next_at TEXT NOT NULL
        )"""
    )


@migrations()
def m020_shared_counters(db: Database) -> None:
    # Slack's pace per channel (a token bucket: tokens left at `since`, epoch seconds) and
    # the alerts each source sent per second, kept here so every process on this database
    # counts the same posts and the same alerts.
    db.execute(
        """CREATE TABLE slack_pace (
            channel TEXT PRIMARY KEY,
            tokens REAL NOT NULL,
            since REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE alert_rate (
            source TEXT NOT NULL,
            second INTEGER NOT NULL,
            alerts INTEGER NOT NULL,
            PRIMARY KEY (source, second)
        )"""
    )


@migrations()
def m021_stamp_the_shared_history(db: Database) -> None:
    # The end of this chain is revision 0001 of the Alembic history (history.py); the file
    # is stamped there as Alembic itself would, so later changes are revisions on both
    # engines alike.
    db.execute(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", [BASELINE_REVISION])
