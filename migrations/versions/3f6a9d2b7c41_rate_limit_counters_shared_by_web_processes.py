"""rate-limit counters shared by every web process

Revision ID: 3f6a9d2b7c41
Revises: 8c1d5e2a7f30
Create Date: 2026-12-02 00:30:00.000000

Sign-up and login limits counted in each web process's memory, so that four
gunicorn workers allowed four times as many attempts. They now count here, one row
per limit key and window. The table starts empty: counts held in memory before the
upgrade end with the processes that held them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f6a9d2b7c41"
down_revision = "8c1d5e2a7f30"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rate_limit_counter",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hits >= 0", name=op.f("ck_rate_limit_counter_hits")),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_rate_limit_counter")),
    )
    with op.batch_alter_table("rate_limit_counter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limit_counter_expires_at"), ["expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("rate_limit_counter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_counter_expires_at"))
    op.drop_table("rate_limit_counter")
