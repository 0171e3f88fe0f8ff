"""One schema history for SQLite and PostgreSQL, kept by Alembic (revisions/versions/).

Revision 0001 is the schema as opsbot's own SQLite migrations (initial.py, since_outbox.py)
left it. A SQLite file is still created and brought to that point by them, then stamped at
0001; a PostgreSQL database is created by 0001. Every later change is a revision, run the
same way on both engines.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

REVISIONS = Path(__file__).with_name("revisions")


class UnknownRevision(Exception):
    """The database is at a revision this opsbot does not have: a newer one wrote it."""

    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


def _config(connection: Connection | None = None) -> Config:
    """Where the revisions are; with a connection, the one env.py runs them on."""
    config = Config()
    config.set_main_option("script_location", str(REVISIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    """The revisions, read once per process (start-up reads them for every database)."""
    return ScriptDirectory.from_config(_config())


def newest() -> str:
    """The revision this opsbot brings a database to."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def pending(connection: Connection) -> list[str]:
    """The revisions not yet applied to this database, oldest first; UnknownRevision when it
    is at one this opsbot does not have."""
    return after(current(connection))


def after(at: str | None) -> list[str]:
    """The revisions after `at` (None: all of them), oldest first."""
    scripts = _scripts()
    if at is not None and at not in {script.revision for script in scripts.walk_revisions()}:
        raise UnknownRevision(at)
    ahead = scripts.iterate_revisions("heads", at or "base")
    return [script.revision for script in reversed(list(ahead))]


def upgrade(connection: Connection) -> None:
    """Bring the database to the newest revision: a new PostgreSQL database from nothing, a
    SQLite file from the baseline its own migrations stamped."""
    if pending(connection):  # only then are the revisions run (and env.py read)
        command.upgrade(_config(connection), "head")
