"""requests for a new confirmation link

Revision ID: 531bee7c1502
Revises: e64dde0e4b8b
Create Date: 2026-12-01 21:54:39.467177

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "531bee7c1502"
down_revision = "e64dde0e4b8b"
branch_labels = None
depends_on = None


def upgrade():
    # The web process stores each request alike; the worker answers it.
    op.create_table(
        "link_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("how", sa.String(length=120), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_request")),
    )


def downgrade():
    op.drop_table("link_request")
