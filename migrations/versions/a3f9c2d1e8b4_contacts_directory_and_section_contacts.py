"""contacts directory (saved contact persons that items copy) and section contacts

Revision ID: a3f9c2d1e8b4
Revises: a4c8e2f61b07
Create Date: 2026-12-02 02:05:00.000000

New tables only: items and sections keep their own copy of a contact, so nothing
else changes.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a3f9c2d1e8b4"
down_revision = "a4c8e2f61b07"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
    )
    op.create_index(
        "uq_contact_email",
        "contact",
        ["email"],
        unique=True,
        sqlite_where=sa.text("email <> ''"),
        postgresql_where=sa.text("email <> ''"),
    )
    op.create_table(
        "section_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("contact_phone", sa.String(length=40), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_section_contact_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_section_contact_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_section_contact")),
        sa.UniqueConstraint(
            "issue_id",
            "theme_id",
            name=op.f("uq_section_contact_issue_id_theme_id"),
        ),
    )
    op.create_index(
        op.f("ix_section_contact_theme_id"),
        "section_contact",
        ["theme_id"],
        unique=False,
    )


def downgrade():
    op.drop_index(op.f("ix_section_contact_theme_id"), table_name="section_contact")
    op.drop_table("section_contact")
    op.drop_index("uq_contact_email", table_name="contact")
    op.drop_table("contact")
