"""The outbox remembers which earlier tries of a row may have reached Slack; the rows a
process holds are found by an index.

A try whose fate is unknown (its process died, or Slack answered with an error that may
follow a post) leaves the window in which its post could have landed: from its claim
(`claimed_at`) until its request's timeout. The next try looks for its post among the
messages of those windows (`unsure`) only, however busy the channel has been since.

A new leader frees what a dead process held (`owner = …`): without an index that scanned
every outbox and inbox row, and under load it ran past the write budget.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("claimed_at", sa.Text(), nullable=True))
        table.add_column(sa.Column("unsure", sa.Text(), nullable=True))
    for name in ("outbox", "inbox"):
        op.create_index(
            f"{name}_owner",
            name,
            ["owner"],
            unique=False,
            sqlite_where=sa.text("owner IS NOT NULL"),
            postgresql_where=sa.text("owner IS NOT NULL"),
        )


def downgrade() -> None:
    for name in ("inbox", "outbox"):
        op.drop_index(f"{name}_owner", table_name=name)
    with op.batch_alter_table("outbox") as table:
        table.drop_column("unsure")
        table.drop_column("claimed_at")
