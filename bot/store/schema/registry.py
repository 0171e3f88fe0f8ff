"""The one set of migrations, in the order they are registered (__init__.py says how the
modules that define them keep that order)."""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("opsbot")
