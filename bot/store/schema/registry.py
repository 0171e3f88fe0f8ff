"""The one set of migrations, in the order they are registered (__init__.py says how the
modules that define them keep that order)."""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("opsbot")

# The schema history both engines share (history.py, revisions/): its first revision, which
# the migrations here end at, and its newest, which a test holds to the revisions on disk.
# Known here, a file already at the newest needs no Alembic (nor its import) at start-up.
BASELINE_REVISION = "0001"
NEWEST_REVISION = "0005"
