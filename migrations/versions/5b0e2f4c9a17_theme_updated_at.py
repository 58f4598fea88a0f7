"""theme updated_at (the archive's Last-Modified), editor session_version (logout)

Revision ID: 5b0e2f4c9a17
Revises: 11e26bec7c71
Create Date: 2026-11-25 15:05:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b0e2f4c9a17"
down_revision = "11e26bec7c71"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable first: SQLite cannot add a NOT NULL column without a constant default.
    with op.batch_alter_table("theme") as batch_op:
        batch_op.add_column(
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(sa.text("UPDATE theme SET updated_at = CURRENT_TIMESTAMP"))
    with op.batch_alter_table("theme") as batch_op:
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    with op.batch_alter_table("editor") as batch_op:
        batch_op.add_column(
            sa.Column(
                "session_version", sa.Integer(), server_default="0", nullable=False
            )
        )


def downgrade():
    with op.batch_alter_table("editor") as batch_op:
        batch_op.drop_column("session_version")
    with op.batch_alter_table("theme") as batch_op:
        batch_op.drop_column("updated_at")
