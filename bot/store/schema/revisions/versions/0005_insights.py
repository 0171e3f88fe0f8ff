"""Insights: each person's time zone (Slack's users.info `tz`), for pages at night and at
weekends in the paged person's own time; and how each incident was opened (by hand, by the
health monitor, by alerts, by the security audit), for incidents by source.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as table:
        table.add_column(sa.Column("tz", sa.Text(), nullable=True))
    with op.batch_alter_table("incidents") as table:
        table.add_column(sa.Column("opened_via", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.drop_column("opened_via")
    with op.batch_alter_table("people") as table:
        table.drop_column("tz")
