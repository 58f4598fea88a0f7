"""roles, review, comments, corrections, revisions and settings

Revision ID: 5a042d167bc3
Revises: c6e1f0a2b9d3
Create Date: 2026-12-02 03:52:37.810768


Administrators keep their rights as the role "admin", every other account becomes
an "editor". Issues gain review columns, all empty: no issue of the previous
release is in review or approved. Downgrading turns publishers back into editors
and deactivates reviewers, whom the previous release could not keep read-only.
"""

import sqlalchemy as sa
from alembic import op

ROLE_CHECK = "role IN ('admin', 'publisher', 'editor', 'reviewer')"
editor = sa.table(
    "editor", sa.column("role"), sa.column("is_admin"), sa.column("active")
)


# revision identifiers, used by Alembic.
revision = "5a042d167bc3"
down_revision = "c6e1f0a2b9d3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "setting",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting")),
    )
    op.create_table(
        "revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_revision_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revision")),
        sa.UniqueConstraint(
            "object_type",
            "object_id",
            "number",
            name=op.f("uq_revision_object_type_object_id_number"),
        ),
    )
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_revision_issue", ["issue_id", "created_at"], unique=False
        )

    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["editor.id"],
            name=op.f("fk_comment_author_id_editor"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_comment_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["item.id"],
            name=op.f("fk_comment_item_id_item"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment")),
    )
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_issue_id"), ["issue_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_comment_item_id"), ["item_id"], unique=False
        )

    op.create_table(
        "correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_correction_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["item.id"],
            name=op.f("fk_correction_item_id_item"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction")),
    )
    with op.batch_alter_table("correction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_correction_issue_id"), ["issue_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_correction_item_id"), ["item_id"], unique=False
        )

    with op.batch_alter_table("editor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "role", sa.String(length=20), nullable=False, server_default="editor"
            )
        )
    op.execute(editor.update().where(editor.c.is_admin.is_(True)).values(role="admin"))
    with op.batch_alter_table("editor", schema=None) as batch_op:
        batch_op.alter_column("role", server_default=None)
        batch_op.create_check_constraint("role", ROLE_CHECK)
        batch_op.drop_column("is_admin")

    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_editor_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("review_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "approved_by",
                sa.String(length=120),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_issue_approved_by_id_editor"),
            "editor",
            ["approved_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_issue_last_editor_id_editor"),
            "editor",
            ["last_editor_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_issue_last_editor_id_editor"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_issue_approved_by_id_editor"), type_="foreignkey"
        )
        batch_op.drop_column("approved_by_id")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("review_requested_at")
        batch_op.drop_column("last_editor_id")

    with op.batch_alter_table("editor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "is_admin", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.execute(editor.update().where(editor.c.role == "admin").values(is_admin=True))
    op.execute(editor.update().where(editor.c.role == "reviewer").values(active=False))
    with op.batch_alter_table("editor", schema=None) as batch_op:
        batch_op.alter_column("is_admin", server_default=None)
        batch_op.drop_constraint(op.f("ck_editor_role"), type_="check")
        batch_op.drop_column("role")

    with op.batch_alter_table("correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_correction_item_id"))
        batch_op.drop_index(batch_op.f("ix_correction_issue_id"))

    op.drop_table("correction")
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_item_id"))
        batch_op.drop_index(batch_op.f("ix_comment_issue_id"))

    op.drop_table("comment")
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.drop_index("ix_revision_issue")

    op.drop_table("revision")
    op.drop_table("setting")
