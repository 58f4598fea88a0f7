"""pending sign-ups of addresses that were once on the list

Revision ID: e64dde0e4b8b
Revises: 5b0e2f4c9a17
Create Date: 2026-12-01 21:38:43.086286

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e64dde0e4b8b"
down_revision = "5b0e2f4c9a17"
branch_labels = None
depends_on = None


def upgrade():
    # An unsubscribed or bounced person who is signed up again stays as they were;
    # the requested choices wait here until the new confirmation link is used.
    op.create_table(
        "pending_sign_up",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("theme_ids", sa.JSON(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_pending_sign_up_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_pending_sign_up")),
    )


def downgrade():
    op.drop_table("pending_sign_up")
