"""Incident channels: the channel an incident works in, its card there, when the channel was
archived, and why there is none when Slack would not make it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ("room_id", "room_name", "room_card_ts", "room_archived_at", "room_problem")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        for name in COLUMNS:
            table.add_column(sa.Column(name, sa.Text(), nullable=True))
    op.create_index(
        "incidents_room",
        "incidents",
        ["room_id"],
        unique=False,
        sqlite_where=sa.text("room_id IS NOT NULL"),
        postgresql_where=sa.text("room_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("incidents_room", table_name="incidents")
    with op.batch_alter_table("incidents") as table:
        for name in reversed(COLUMNS):
            table.drop_column(name)
