"""item images, PDF editions and API keys

Revision ID: fe54d12de68a
Revises: 5a042d167bc3
Create Date: 2026-12-02 05:26:19.289748

Items gain an optional image (none for every item of the previous release);
issues gain a table of their PDF editions, which workers build after the
upgrade; API keys get a table of their own. Downgrading drops images, PDF
editions and keys: the previous release had no place for them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "fe54d12de68a"
down_revision = "5a042d167bc3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_table(
        "issue_pdf",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_issue_pdf_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_issue_pdf")),
    )
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("image", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "image_alt", sa.String(length=300), server_default="", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "image_decorative",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("image_width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("image_height", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("image_height")
        batch_op.drop_column("image_width")
        batch_op.drop_column("image_decorative")
        batch_op.drop_column("image_alt")
        batch_op.drop_column("image")
    op.drop_table("issue_pdf")
    op.drop_table("api_key")
