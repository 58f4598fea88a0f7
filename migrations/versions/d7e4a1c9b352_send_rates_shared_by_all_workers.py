"""send rates shared by all workers (RATE_PER_SECOND, RATE_PER_HOUR, domain limits)

Revision ID: d7e4a1c9b352
Revises: 6c0b4d2255ad
Create Date: 2026-12-02 00:40:00.000000

A new table only: one row per limit, created by the workers when first needed.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d7e4a1c9b352"
down_revision = "6c0b4d2255ad"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "send_rate",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("next_at", sa.Double(), server_default="0", nullable=False),
        sa.Column("window_start", sa.Double(), server_default="0", nullable=False),
        sa.Column("window_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("granted", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_rate")),
    )


def downgrade():
    op.drop_table("send_rate")
