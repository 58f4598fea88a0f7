"""worker heartbeats, for the missing-worker banner and /healthz

Revision ID: 6c0b4d2255ad
Revises: 3f7b9c2d4e61
Create Date: 2026-12-02 00:30:42.551869

A new table only: every row of the previous revision stays as it is.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "6c0b4d2255ad"
down_revision = "3f7b9c2d4e61"
branch_labels = None
depends_on = None


def upgrade():
    # Each worker process writes its row every few seconds; editors are warned when
    # mail waits and no row is recent.
    op.create_table(
        "worker_heartbeat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_heartbeat")),
        sa.UniqueConstraint("name", name=op.f("uq_worker_heartbeat_name")),
    )
    op.create_index(
        op.f("ix_worker_heartbeat_last_seen_at"),
        "worker_heartbeat",
        ["last_seen_at"],
        unique=False,
    )


def downgrade():
    op.drop_index(
        op.f("ix_worker_heartbeat_last_seen_at"), table_name="worker_heartbeat"
    )
    op.drop_table("worker_heartbeat")
