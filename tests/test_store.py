import os
import sqlite3
import threading
from datetime import date, timedelta

import pytest

from bot.store import Change, Digest, DigestMark, Entry, Incident, JobRun, Store, migrations
from bot.store.job_runs import RUN_LEASE
from tests.conftest import T0
from tests.helpers import all_at_once


def new_incident(store: Store, title: str = "Login broken") -> Incident:
    draft = Incident(
        number=0,
        title=title,
        severity="P1",
        status="open",
        commander="U1",
        opened_by="U1",
        opened_at=T0,
    )
    return store.incidents.open_incident(
        draft, Change(entries=(Entry(T0, "U1", "opened", "Opened"),))
    )


def test_migrate_is_idempotent_and_uses_wal(tmp_path) -> None:
    """Migrating twice is harmless; the file is in WAL mode."""
    store = Store(tmp_path / "nested" / "opsbot.db")
    store.migrate()
    store.migrate()
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = conn.execute("SELECT name FROM _sqlite_migrations").fetchall()
    assert [name for (name,) in applied] == [m.name for m in migrations._migrations]
    assert applied[0] == ("m001_incidents",)


@pytest.mark.both_engines
def test_round_trip_keeps_times_and_fields(store) -> None:
    """An incident comes back as it went in, times as aware UTC datetimes."""
    incident = new_incident(store)
    again = store.incidents.incident(incident.number)
    assert again == incident
    assert again.opened_at.tzinfo is not None


@pytest.mark.both_engines
def test_failed_decision_rolls_back_everything(store) -> None:
    """If deciding raises, neither the fields nor the entries are written."""
    incident = new_incident(store)

    def decide(_: Incident):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.incidents.change_incident(incident.number, decide)
    assert store.incidents.incident(incident.number) == incident
    assert len(store.incidents.timeline(incident.number)) == 1


@pytest.mark.both_engines
def test_source_puts_one_entry_on_a_timeline(store) -> None:
    """The same source twice adds one entry; removing by source removes it."""
    incident = new_incident(store)
    pin = Entry(T0 + timedelta(minutes=3), "U2", "pin", "Rolled back", "pin:C1:1.0")
    assert store.incidents.add_entry(incident.number, pin) is True
    assert store.incidents.add_entry(incident.number, pin) is False
    assert [e.kind for e in store.incidents.timeline(incident.number)] == ["opened", "pin"]
    assert store.incidents.remove_entry(incident.number, "pin:C1:1.0") is True
    assert store.incidents.remove_entry(incident.number, "pin:C1:1.0") is False


@pytest.mark.both_engines
def test_timeline_is_in_time_order(store) -> None:
    """Entries sort by their own time, so a pinned older message lands where it happened."""
    incident = new_incident(store)
    store.incidents.add_entry(
        incident.number, Entry(T0 + timedelta(minutes=9), "U1", "update", "late")
    )
    store.incidents.add_entry(
        incident.number, Entry(T0 + timedelta(minutes=2), "U2", "pin", "early", "s")
    )
    assert [e.text for e in store.incidents.timeline(incident.number)] == [
        "Opened",
        "early",
        "late",
    ]


def test_first_sighting_forgets_after_keep(store) -> None:
    """An event id is a duplicate within the keep window, and forgotten after it."""
    keep = timedelta(days=1)
    assert store.first_sighting("Ev1", T0, keep) is True
    assert store.first_sighting("Ev1", T0 + timedelta(hours=1), keep) is False
    assert store.first_sighting("Ev2", T0 + timedelta(days=2), keep) is True
    assert store.first_sighting("Ev1", T0 + timedelta(days=2), keep) is True


@pytest.mark.both_engines
def test_digests_marks_and_job_runs_read_back_typed(store) -> None:
    """A digest, its marks and a job's runs come back as typed rows, times as aware UTC."""
    sections = [{"key": "errors", "title": "Error logs", "state": "ok", "text": "none"}]
    digest_id = store.digests.add_digest("daily", "2026-11-27", "", "", T0, sections)
    store.digests.set_digest_message(digest_id, "C1", "1.2")
    later = T0 + timedelta(minutes=5)
    assert store.digests.mark(digest_id, "errors", "U1", later)
    digest = Digest(digest_id, "daily", date(2026, 11, 27), "C1", "1.2", T0, sections)
    assert store.digests.digest(digest_id) == store.digests.digest_at("C1", "1.2") == digest
    assert store.digests.find("2026-11-27", "2026-11-27", kind="daily") == [digest]
    assert store.digests.find("2026-11-27", "2026-11-27", kind="weekly") == []
    assert store.digests.marks(digest_id) == [DigestMark(digest_id, "errors", "U1", later)]

    assert store.jobs.claim_run("daily-digest", T0, T0, owner="host:1")
    [running] = store.jobs.job_runs("daily-digest")
    assert (running.status, running.owner, running.lease_until) == (
        "running",
        "host:1",
        T0 + RUN_LEASE,
    )
    store.jobs.finish_run("daily-digest", T0, "ok", "Daily digest D1 posted", later)
    done = JobRun("daily-digest", T0, T0, "ok", later, "Daily digest D1 posted")
    assert store.jobs.last_run("daily-digest") == done
    assert store.jobs.last_run("weekly-digest") is None


@pytest.mark.both_engines
def test_a_mark_is_made_once_and_removed_once(store) -> None:
    """Marking twice changes nothing the second time; so does removing twice."""
    digest_id = store.digests.add_digest("daily", "2026-11-27", "C1", "1.2", T0, [])
    assert store.digests.mark(digest_id, "all", "U1", T0)
    assert not store.digests.mark(digest_id, "all", "U1", T0 + timedelta(minutes=1))
    assert store.digests.mark(digest_id, "all", "U2", T0 + timedelta(minutes=2))
    assert [(m.user, m.at) for m in store.digests.marks(digest_id)] == [
        ("U1", T0),
        ("U2", T0 + timedelta(minutes=2)),
    ]
    assert store.digests.mark(digest_id, "all", "U1", T0, add=False)
    assert not store.digests.mark(digest_id, "all", "U1", T0, add=False)
    assert [m.user for m in store.digests.marks(digest_id)] == ["U2"]


@pytest.mark.both_engines
def test_runs_are_renewed_cut_short_once_and_claimed_again(store) -> None:
    """A run is renewed only by its holder (none, for a run by hand); one cut short (its
    holder gone, its lease out, or stopped) is said once and can then be claimed again."""

    def never(owner: str) -> bool:
        return False

    assert store.jobs.claim_run("backup-nightly", T0, T0)
    assert not store.jobs.claim_run("backup-nightly", T0, T0)  # running: nobody else takes it
    assert store.jobs.renew_run("backup-nightly", T0, None, T0 + RUN_LEASE)
    assert not store.jobs.renew_run("backup-nightly", T0, "host:9", T0 + RUN_LEASE)
    [by_hand] = store.jobs.cut_short(T0, never)  # held by no process: cut short at a start
    assert (by_hand.owner, by_hand.status) == (None, "running")
    assert store.jobs.cut_short(T0, never) == []  # said once

    assert store.jobs.claim_run("backup-nightly", T0, T0, owner="host:1")
    assert store.jobs.cut_short(T0 + RUN_LEASE / 2, never) == []  # its lease holds
    assert [r.owner for r in store.jobs.cut_short(T0 + RUN_LEASE * 2, never)] == ["host:1"]
    assert store.jobs.claim_run("backup-nightly", T0, T0, owner="host:2")
    assert [r.owner for r in store.jobs.cut_short(T0, lambda owner: owner == "host:2")] == [
        "host:2"
    ]

    later = T0 + timedelta(hours=1)
    assert store.jobs.claim_run("backup-nightly", T0, later, owner="host:3")
    assert store.jobs.interrupt_runs("host:3") == 1  # a clean stop: said at the next start
    assert [r.status for r in store.jobs.cut_short(later, never)] == ["interrupted"]
    assert "backup-nightly" not in store.jobs.last_settled_runs()
    assert store.jobs.claim_run("backup-nightly", T0, later, owner="host:3")
    store.jobs.finish_run("backup-nightly", T0, "ok", "done", later)
    assert store.jobs.last_settled_runs()["backup-nightly"] == T0
    assert store.jobs.first_run_at() == later


@pytest.mark.both_engines
def test_one_rollback_and_one_backup_run_at_a_time_even_inside_a_command(store) -> None:
    """A second claim while one runs is refused, and the command's own transaction goes on
    and commits: the refusal does not abort it."""
    row = {"tag": "v1", "status": "pending", "approvals": [], "steps": []}
    first, second = store.rollbacks.add_rollback(row), store.rollbacks.add_rollback(row)
    assert store.rollbacks.claim_rollback(first, T0)
    with store.atomic():
        assert not store.rollbacks.claim_rollback(second, T0)
        assert store.backups.start_backup("builtin", "app", "", "nightly", T0) is not None
        assert store.backups.start_backup("builtin", "app", "", "by hand", T0) is None
        store.rollbacks.update_rollback(second, status="cancelled", finished_at=T0)
    assert [r.id for r in store.rollbacks.find("running")] == [first]
    assert store.rollbacks.rollback(second).status == "cancelled"
    [running] = store.backups.find(status="running")
    assert running.reason == "nightly"
    store.backups.finish_backup(running.id, status="ok", finished_at=T0)
    assert store.backups.start_backup("builtin", "app", "", "next", T0) is not None
    store.rollbacks.update_rollback(first, status="ok")
    assert store.rollbacks.claim_rollback(second, T0) is False  # only a pending one is claimed


@pytest.mark.both_engines
def test_many_threads_write_without_losing_any(store) -> None:
    """Eight threads opening incidents at once: every one is stored with its own number."""

    def work(n: int) -> None:
        for i in range(10):
            new_incident(store, f"t{n}-{i}")

    all_at_once(work, 8)
    found = store.incidents.find(open_only=True, limit=1000)
    assert sorted(i.number for i in found) == list(range(1, 81))


@pytest.mark.both_engines
def test_a_busy_database_fails_fast_and_writes_nothing(store, database) -> None:
    """Another process holding the lock a write needs (SQLite's one writer; a table locked
    on PostgreSQL, as a long maintenance does) makes a write fail in ~2 s, not hang."""
    import time

    import sqlalchemy as sa

    from bot.store import StoreBusy

    if store.sqlite:
        holder = sa.create_engine(f"sqlite:///{store.path}").connect()
        holder.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        holder = sa.create_engine(database).connect()
        holder.exec_driver_sql("LOCK TABLE incidents IN EXCLUSIVE MODE")
    began = time.monotonic()
    with pytest.raises(StoreBusy):
        new_incident(store)
    assert time.monotonic() - began < 2.9
    holder.rollback()
    holder.close()
    assert store.incidents.find(open_only=False) == []
    assert new_incident(store).number == 1


@pytest.mark.both_engines
def test_a_write_for_a_request_ends_when_its_answer_is_due(store, database) -> None:
    """A request that waited before its write (a queue, a slow read) leaves the write only
    what is left of its answer's time: the database held for a second makes a write due in
    0.3 s busy, though the write budget alone would have waited it out. Once the request is
    answered, and in the listener threads it hands work to, the bound holds as it should."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    from bot.pools import InContext
    from bot.store import StoreBusy, answered, answering

    def hold_for_a_second() -> threading.Timer:
        conn = sa.create_engine(f"sqlite:///{store.path}" if store.sqlite else database).connect()
        lock = "BEGIN IMMEDIATE" if store.sqlite else "LOCK TABLE incidents IN EXCLUSIVE MODE"
        conn.exec_driver_sql(lock)
        timer = threading.Timer(1.0, conn.rollback)
        timer.start()
        return timer

    with answering(time.monotonic() + 0.3):
        timer = hold_for_a_second()
        with pytest.raises(StoreBusy):
            new_incident(store, "due in 0.3 s")
        timer.join()
        in_context, plain = InContext(1), ThreadPoolExecutor(1)
        timer = hold_for_a_second()
        with pytest.raises(StoreBusy):  # a listener thread Bolt runs it on knows it
            in_context.submit(new_incident, store, "in a listener").result()
        timer.join()
        timer = hold_for_a_second()
        assert plain.submit(new_incident, store, "elsewhere").result().number == 1
        timer.join()
        answered()  # the answer has gone: the write budget alone
        timer = hold_for_a_second()
        assert new_incident(store, "after the answer").number == 2
        timer.join()
    assert [i.title for i in store.incidents.find(open_only=False)] == [
        "after the answer",
        "elsewhere",
    ]


def test_timeline_numbers_are_given_to_existing_entries_per_incident(tmp_path) -> None:
    """A database from before per-incident numbers: each incident's entries become #1, #2, ...
    in the order they were written, and new entries go on from there."""
    from sqlite_utils import Database

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m013_timeline_numbers")
    for number in (1, 2):
        db["incidents"].insert(
            {
                "id": number,
                "title": f"T{number}",
                "severity": "P1",
                "status": "open",
                "commander": "U1",
                "opened_by": "U1",
                "opened_at": T0.isoformat(),
            }
        )
    for number, text in ((1, "a"), (2, "b"), (1, "c"), (2, "d"), (2, "e")):
        db["timeline"].insert(
            {
                "incident_id": number,
                "at": T0.isoformat(),
                "actor": "U1",
                "kind": "update",
                "text": text,
            }
        )
    db.conn.close()
    store = Store(path)
    store.migrate()
    assert [(e.seq, e.text) for e in store.incidents.timeline(1)] == [(1, "a"), (2, "c")]
    assert [(e.seq, e.text) for e in store.incidents.timeline(2)] == [(1, "b"), (2, "d"), (3, "e")]
    store.incidents.add_entry(1, Entry(T0, "U1", "update", "f"))
    assert store.incidents.timeline(1)[-1].seq == 3


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_connections_of_ended_threads_and_dropped_stores_are_closed(tmp_path) -> None:
    """A thread per job run must not leave a file handle behind each time (a sqlite3 connection
    sits in a reference cycle, so only close() frees it promptly)."""
    Store(tmp_path / "opsbot.db").migrate()
    before = _open_files()
    for _ in range(30):  # the way a short-lived reader uses it
        Store(tmp_path / "opsbot.db").incidents.find(open_only=False)
    assert _open_files() <= before
    store = Store(tmp_path / "opsbot.db")
    for _ in range(30):
        thread = threading.Thread(target=store.incidents.find, kwargs={"open_only": False})
        thread.start()
        thread.join()
    assert _open_files() <= before + 3  # the last thread's connection (file, WAL, shm)
    store.close()
    assert _open_files() <= before


@pytest.mark.both_engines
def test_an_alerts_changes_are_counted_within_its_incident(store) -> None:
    """An alert flood asks this once per alert: it reads one incident's timeline, not all."""
    first, second = new_incident(store), new_incident(store)
    for n in range(3):
        store.incidents.add_entry(
            first.number, Entry(T0, None, "alert", "x", f"alert:7:firing:{n}")
        )
    store.incidents.add_entry(second.number, Entry(T0, None, "alert", "x", "alert:7:firing:0"))
    assert store.alerts.alert_changes(7, first.number) == 3
    assert store.alerts.alert_changes(7, second.number) == 1


def _alert(status: str = "firing", **more) -> dict:
    return {
        "source": "grafana",
        "fingerprint": "disk-full",
        "status": status,
        "severity": "critical",
        "summary": "Disk full on db-1",
        "labels": {"host": "db-1"},
        "group_key": "db",
        "first_seen": T0,
        "last_seen": T0,
        **more,
    }


@pytest.mark.both_engines
def test_an_alert_is_one_row_per_source_and_fingerprint(store) -> None:
    """Saving an alert again updates its row (same id) with what changed, and reads back typed."""
    first = store.alerts.save_alert(_alert())
    later = T0 + timedelta(minutes=5)
    again = store.alerts.save_alert(
        _alert("resolved", last_seen=later, resolved_at=later, repeats=2)
    )
    assert again == first
    saved = store.alerts.alert("grafana", "disk-full")
    assert (saved.status, saved.last_seen, saved.resolved_at) == ("resolved", later, later)
    assert (saved.first_seen, saved.labels, saved.repeats) == (T0, {"host": "db-1"}, 2)
    assert store.alerts.find() == []  # resolved: not firing
    assert [a.id for a in store.alerts.find(firing_only=False)] == [first]
    assert [a.id for a in store.alerts.recent_alerts("grafana", T0 + timedelta(minutes=1))] == [
        first
    ]
    assert store.alerts.recent_alerts("grafana", later + timedelta(seconds=1)) == []


@pytest.mark.both_engines
def test_the_alert_rate_counts_the_minute_before_per_source(store) -> None:
    """Every process counts a source's alerts of the last minute alike; a clock stepped back
    forgets what it had counted ahead of it."""
    assert store.alerts.count_alerts("grafana", T0, 5) == 0
    assert store.alerts.count_alerts("grafana", T0, 2) == 5  # the same second adds up
    assert store.alerts.count_alerts("grafana", T0 + timedelta(seconds=30), 1) == 7
    assert store.alerts.count_alerts("sentry", T0 + timedelta(seconds=30), 1) == 0  # its own count
    assert store.alerts.count_alerts("grafana", T0 + timedelta(seconds=60), 1) == 1  # T0 is past
    assert store.alerts.count_alerts("grafana", T0 - timedelta(hours=1), 4) == 0
    assert store.alerts.count_alerts("grafana", T0 - timedelta(hours=1), 1) == 4


@pytest.mark.both_engines
def test_silences_end_once_and_heartbeats_say_when_they_were_missed(store) -> None:
    """A silence ended early is no longer listed; a beat after a miss says since when."""
    made = {"starts_at": T0, "ends_at": T0 + timedelta(hours=1), "created_at": T0}
    who = {"reason": "db move", "created_by": "U1"}
    silence = store.alerts.add_silence(
        {"kind": "silence", "matchers": {"host": "db-1"}, **made, **who}
    )
    window = store.alerts.add_silence({"kind": "maintenance", "matchers": {}, **made, **who})
    assert [s.id for s in store.alerts.silences(T0)] == [silence, window]
    assert [s.matchers for s in store.alerts.silences(T0, "silence")] == [{"host": "db-1"}]
    assert store.alerts.end_silence(silence, T0) and not store.alerts.end_silence(silence, T0)
    assert [s.id for s in store.alerts.silences(T0)] == [window]
    assert store.alerts.silences(T0 + timedelta(hours=1)) == []

    assert (
        store.alerts.beat("backup", T0) is None and store.alerts.heartbeat("backup").last_beat == T0
    )
    missed = T0 + timedelta(hours=25)
    assert store.alerts.mark_missed("backup", missed) and not store.alerts.mark_missed(
        "backup", missed
    )
    assert store.alerts.mark_missed("never-beat", missed)  # known from its first miss
    assert store.alerts.beat("backup", missed + timedelta(hours=1)) == missed
    assert store.alerts.heartbeat("backup").missed_since is None


@pytest.mark.both_engines
def test_timeline_numbers_stay_gapless_under_concurrent_writers(store) -> None:
    """Threads adding to one timeline at once: every entry is kept, numbered #1..#n once each."""
    incident = new_incident(store)

    def work(n: int) -> None:
        for i in range(5):
            entry = Entry(T0, f"U{n}", "update", f"{n}-{i}", f"s:{n}:{i}")
            if i % 2:
                store.incidents.add_entry(incident.number, entry)
            else:
                store.incidents.change_incident(
                    incident.number, lambda _, e=entry: Change(entries=(e,))
                )

    all_at_once(work, 6)
    entries = store.incidents.timeline(incident.number)
    assert len(entries) == 31
    assert sorted(e.seq for e in entries) == list(range(1, 32))


@pytest.mark.both_engines
def test_timers_are_armed_moved_and_disarmed(store) -> None:
    """A change arms, moves and disarms an incident's timers; only the due ones are due."""
    first, second = new_incident(store), new_incident(store)
    soon, later = T0 + timedelta(minutes=5), T0 + timedelta(minutes=30)
    store.incidents.change_incident(
        first.number, lambda _: Change(timers={"ack": soon, "card": later})
    )
    store.incidents.change_incident(second.number, lambda _: Change(timers={"ack": later}))
    assert store.incidents.timers(first.number) == {"ack": soon, "card": later}
    assert [(t.incident, t.kind) for t in store.incidents.due_timers(soon)] == [
        (first.number, "ack")
    ]
    store.incidents.change_incident(
        first.number, lambda _: Change(timers={"ack": None, "card": soon})
    )
    assert store.incidents.timers(first.number) == {"card": soon}
    assert {(t.incident, t.kind, t.due_at) for t in store.incidents.due_timers(later)} == {
        (first.number, "card", soon),
        (second.number, "ack", later),
    }


def titles(found: list[Incident]) -> list[str]:
    return [i.title for i in found]


@pytest.mark.both_engines
def test_incident_lists_filter_by_state_and_severity(store) -> None:
    """Open incidents list most severe then oldest first, all of them newest first; the
    severity filter and paging apply to both, and counts agree."""
    numbers = {}
    for title, severity in (("a", "P2"), ("b", "P1"), ("c", "P2"), ("d", "P0")):
        incident = new_incident(store, title)
        store.incidents.change_incident(
            incident.number, lambda _, s=severity: Change(fields={"severity": s})
        )
        numbers[title] = incident.number
    store.incidents.change_incident(numbers["c"], lambda _: Change(fields={"status": "resolved"}))
    assert titles(store.incidents.find(open_only=True)) == ["d", "b", "a"]
    assert titles(store.incidents.find(open_only=False)) == ["d", "c", "b", "a"]
    assert titles(store.incidents.find(open_only=False, limit=2, offset=1)) == ["c", "b"]
    assert titles(store.incidents.find(open_only=False, severity="P2")) == ["c", "a"]
    assert titles(store.incidents.find(open_only=True, severity="P2")) == ["a"]
    assert titles(store.incidents.find(open_only=True, severity="P1' OR '1'='1")) == []
    assert store.incidents.count_incidents(open_only=True) == 3
    assert store.incidents.count_incidents(open_only=False, severity="P2") == 2
    assert store.incidents.count_incidents(open_only=True, severity="P3") == 0


@pytest.mark.both_engines
def test_cards_edits_public_updates_and_marks_read_back(store) -> None:
    """An incident is found by its card; an edit keeps the old text; public updates list the
    incident; a timeline mark is counted; a decision's yes/no reads back as a bool."""
    incident, other = new_incident(store), new_incident(store)
    store.incidents.set_card(
        incident.number, "C1", "1.5", Entry(T0, None, "card", "Card posted", "card")
    )
    assert store.incidents.incident_by_card("C1", "1.5").number == incident.number
    assert store.incidents.incident_by_card("C1", "9.9") is None
    assert [i.number for i in store.incidents.incidents_without_card()] == [other.number]

    later = T0 + timedelta(minutes=4)
    edited = store.incidents.edit_entry(
        incident.number, 1, text="Opened (typo)", at=None, editor="U2", now=later
    )
    assert (edited.seq, edited.text, edited.at, edited.edited_at) == (1, "Opened (typo)", T0, later)
    assert (
        store.incidents.edit_entry(incident.number, 99, text="x", at=None, editor="U2", now=later)
        is None
    )
    [edit] = store.incidents.edits(edited.id)
    assert (edit.editor, edit.old_text, edit.new_text, edit.edited_at) == (
        "U2",
        "Opened",
        "Opened (typo)",
        later,
    )

    said = Entry(later, "U2", "public", "Said in public", "public:1")
    store.incidents.add_public_update(incident.number, "We are on it", "U2", later, said)
    assert [(u.at, u.text) for u in store.incidents.public_updates(incident.number)] == [
        (later, "We are on it")
    ]
    assert [i.number for i in store.incidents.public_incidents(T0)] == [incident.number]
    assert store.incidents.incidents_marked("public:1", T0) == 1
    assert store.incidents.incidents_marked("public:1", later) == 0

    store.incidents.change_incident(incident.number, lambda _: Change(fields={"target_met": True}))
    assert store.incidents.incident(incident.number).target_met is True
    assert store.incidents.incident(9999) is None
    with pytest.raises(LookupError):
        store.incidents.change_incident(9999, lambda _: Change())


@pytest.mark.both_engines
def test_action_items_and_post_mortems_read_back(store) -> None:
    """Action items get their own ids and are done once; a post-mortem saved again replaces
    the first."""
    incident = new_incident(store)
    first = store.followups.add_action(
        incident.number, owner="U2", text="Add alert", due=None, actor="U1", now=T0
    )
    second = store.followups.add_action(
        incident.number, owner="U3", text="Fix login", due="2026-12-01", actor="U1", now=T0
    )
    assert second > first
    later = T0 + timedelta(hours=1)
    assert store.followups.finish_action(incident.number, first, later) is True
    assert store.followups.finish_action(incident.number, first, later) is False
    assert store.followups.finish_action(incident.number + 1, second, later) is False
    assert [
        (a.id, a.owner, a.due, a.done_at) for a in store.followups.actions(incident.number)
    ] == [
        (first, "U2", None, later),
        (second, "U3", "2026-12-01", None),
    ]

    assert store.followups.postmortem(incident.number) is None
    store.followups.save_postmortem(incident.number, "# Draft", "draft", T0)
    store.followups.save_postmortem(incident.number, "# Final", "final", later)
    kept = store.followups.postmortem(incident.number)
    assert (kept.markdown, kept.notice, kept.written_at) == ("# Final", "final", later)


@pytest.mark.both_engines
def test_people_names_are_kept_and_unknown_ones_asked_again(store) -> None:
    """A known name and time zone are kept; a name Slack could not give, or one kept from
    before time zones were, is asked again once its time is past."""
    store.people.save_name("U1", "Alice", T0, "Europe/Berlin")
    store.people.save_name("U2", None, T0)
    store.people.save_name("U4", "Dan", T0)  # named before time zones were kept
    assert store.people.names(["U1", "U2", "U3", "U1"]) == {"U1": "Alice"}
    assert store.people.names([]) == {}
    assert store.people.zones(["U1", "U4"]) == {"U1": "Europe/Berlin"}
    assert store.people.asked_since(["U1", "U2", "U3", "U4"], T0) == {"U1", "U2", "U4"}
    assert store.people.asked_since(["U1", "U2", "U3", "U4"], T0 + timedelta(hours=1)) == {"U1"}
    store.people.save_name("U2", "Bob", T0 + timedelta(hours=2))
    assert store.people.names(["U2"]) == {"U2": "Bob"}
    assert store.people.asked_since([], T0) == set()
