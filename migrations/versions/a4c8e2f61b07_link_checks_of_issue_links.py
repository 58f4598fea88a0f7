"""link checks: the latest state of each web address the issues link to

Revision ID: a4c8e2f61b07
Revises: d7e4a1c9b352
Create Date: 2026-12-02 02:00:00.000000

A new table only: one row per checked address, written by the workers' link-check
duty and by `flask links check`; nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a4c8e2f61b07"
down_revision = "d7e4a1c9b352"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "link_check",
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("final_url", sa.String(length=2000), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("broken_since", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('working', 'redirected', 'broken')",
            name=op.f("ck_link_check_outcome"),
        ),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_link_check")),
    )


def downgrade():
    op.drop_table("link_check")
