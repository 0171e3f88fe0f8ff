"""The schema: every migration, applied in order at start-up (Store.migrate).

Migrations are registered in one set (registry.py) as their modules are imported: initial.py
(m001-m011), since_outbox.py (m012-), which imports initial.py first, so the set is in order
whatever imports what. A new migration goes at the end of the newest module, numbered one past
the last; when that module nears 400 lines, a new one (importing it first) follows it.

tables.py describes the schema they build as SQLAlchemy Core tables (columns.py, records.py,
work.py), for PostgreSQL; a new migration changes those tables too, or its test fails.
"""

from __future__ import annotations

from bot.store.schema import initial, since_outbox  # noqa: F401  (they register migrations)
from bot.store.schema.registry import migrations

__all__ = ["migrations"]
