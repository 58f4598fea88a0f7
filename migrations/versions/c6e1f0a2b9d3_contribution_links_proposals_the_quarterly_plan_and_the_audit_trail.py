"""contribution links, proposals, the quarterly plan and the audit trail

Revision ID: c6e1f0a2b9d3
Revises: a3f9c2d1e8b4
Create Date: 2026-12-02 03:02:57.461938

New tables, two nullable plan columns on issues and a nullable proposal reference
on items: rows of the previous release keep their meaning (an issue without a plan,
an item an editor typed).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c6e1f0a2b9d3"
down_revision = "a3f9c2d1e8b4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("object_title", sa.String(length=300), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_audit_event_object", ["object_type", "object_id"], unique=False
        )

    op.create_table(
        "contribution_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_sealed", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_contribution_link_token_hash")),
    )
    op.create_table(
        "contribution_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_contribution_reminder_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["contribution_link.id"],
            name=op.f("fk_contribution_reminder_link_id_contribution_link"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_reminder")),
        sa.UniqueConstraint(
            "link_id",
            "issue_id",
            name=op.f("uq_contribution_reminder_link_id_issue_id"),
        ),
    )
    with op.batch_alter_table("contribution_reminder", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contribution_reminder_issue_id"), ["issue_id"], unique=False
        )

    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("contact_title", sa.String(length=120), nullable=False),
        sa.Column("contact_organisation", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=40), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("proposer_email", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("edit_secret", sa.String(length=64), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("editor_message", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'returned', 'accepted', 'declined')",
            name=op.f("ck_proposal_status"),
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_proposal_issue_id_issue"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["contribution_link.id"],
            name=op.f("fk_proposal_link_id_contribution_link"),
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_proposal_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
        sa.UniqueConstraint("edit_secret", name=op.f("uq_proposal_edit_secret")),
    )
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposal_issue_id"), ["issue_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_proposal_link_id"), ["link_id"], unique=False
        )
        batch_op.create_index(
            "ix_proposal_status_submitted", ["status", "submitted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_proposal_theme_id"), ["theme_id"], unique=False
        )

    op.create_table(
        "proposal_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
            name=op.f("fk_proposal_link_proposal_id_proposal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_link")),
    )
    with op.batch_alter_table("proposal_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposal_link_proposal_id"), ["proposal_id"], unique=False
        )

    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("publish_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("contribution_deadline", sa.Date(), nullable=True)
        )

    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposal_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_item_proposal_id"), ["proposal_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_item_proposal_id_proposal"),
            "proposal",
            ["proposal_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_item_proposal_id_proposal"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_item_proposal_id"))
        batch_op.drop_column("proposal_id")

    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_column("contribution_deadline")
        batch_op.drop_column("publish_on")

    with op.batch_alter_table("proposal_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_link_proposal_id"))

    op.drop_table("proposal_link")
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_theme_id"))
        batch_op.drop_index("ix_proposal_status_submitted")
        batch_op.drop_index(batch_op.f("ix_proposal_link_id"))
        batch_op.drop_index(batch_op.f("ix_proposal_issue_id"))

    op.drop_table("proposal")
    with op.batch_alter_table("contribution_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_reminder_issue_id"))

    op.drop_table("contribution_reminder")
    op.drop_table("contribution_link")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_object")
        batch_op.drop_index("ix_audit_event_at")

    op.drop_table("audit_event")
