"""The leader's lease, and who runs each backup and rollback.

Several `opsbot serve` on one PostgreSQL database share the work; one of them leads (the
scheduler, the timers, crash recovery) while it holds the lease in `leader_lease`, whose
token grows at every change of hands (bot/store/leases.py). A backup or rollback records
the process that runs it, so a process that starts beside it leaves it alone.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# 8-byte floats on both engines (PostgreSQL's REAL has 4)
EIGHT_BYTES: sa.types.TypeEngine[float] = sa.REAL().with_variant(
    postgresql.DOUBLE_PRECISION(), "postgresql"
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    lease = op.create_table(
        "leader_lease",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("token", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("acquired_at", EIGHT_BYTES, nullable=True),
        sa.Column("expires_at", EIGHT_BYTES, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(lease, [{"id": 1}])
    with op.batch_alter_table("backups") as table:
        table.add_column(sa.Column("owner", sa.Text(), nullable=True))
    with op.batch_alter_table("rollbacks") as table:
        table.add_column(sa.Column("owner", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollbacks") as table:
        table.drop_column("owner")
    with op.batch_alter_table("backups") as table:
        table.drop_column("owner")
    op.drop_table("leader_lease")
