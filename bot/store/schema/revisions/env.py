"""Alembic's entry point: runs the revisions on the connection the caller hands over
(bot/store/schema/history.py), never on one of its own."""

from __future__ import annotations

from alembic import context

from bot.store.schema.tables import metadata

connection = context.config.attributes["connection"]
# batch mode: a revision that alters a table works on SQLite too (it copies the table)
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
