"""bounce records, and complaints in the consent history

Revision ID: 3f7b9c2d4e61
Revises: 3f6a9d2b7c41
Create Date: 2026-12-02 00:30:23.645916

A bounce row is one DSN, ARF complaint or refusal during the SMTP session, tied to
the delivery or transactional message it is about (found from the VERP address).
A complaint also unsubscribes the person, recorded as a consent event of the new
kind "complaint"; autogenerate does not see CHECK changes, so that one is written
by hand.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f7b9c2d4e61"
down_revision = "3f6a9d2b7c41"
branch_labels = None
depends_on = None

CONSENT_KIND_CHECK = "kind IN ({})"
PREVIOUS = "'requested', 'confirmed', 'preferences_changed', 'unsubscribed', 'imported'"
WITH_COMPLAINT = PREVIOUS + ", 'complaint'"


def upgrade():
    op.create_table(
        "bounce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("outbound_message_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("report_key", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('hard', 'soft', 'rejected', 'complaint')",
            name=op.f("ck_bounce_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
            name=op.f("fk_bounce_delivery_id_delivery"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbound_message_id"],
            ["outbound_message.id"],
            name=op.f("fk_bounce_outbound_message_id_outbound_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_bounce_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce")),
        sa.UniqueConstraint("report_key", name=op.f("uq_bounce_report_key")),
    )
    with op.batch_alter_table("bounce", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bounce_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bounce_outbound_message_id"),
            ["outbound_message_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_bounce_subscriber_received",
            ["subscriber_id", "received_at"],
            unique=False,
        )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_consent_event_kind"), type_="check")
        batch_op.create_check_constraint(
            "kind", CONSENT_KIND_CHECK.format(WITH_COMPLAINT)
        )


def downgrade():
    # The previous release knows no complaints: it reads them as what they did,
    # unsubscribing the person.
    consent_event = sa.table("consent_event", sa.column("kind"), sa.column("detail"))
    op.execute(
        consent_event.update()
        .where(consent_event.c.kind == "complaint")
        .values(kind="unsubscribed", detail="complaint")
    )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_consent_event_kind"), type_="check")
        batch_op.create_check_constraint("kind", CONSENT_KIND_CHECK.format(PREVIOUS))
    with op.batch_alter_table("bounce", schema=None) as batch_op:
        batch_op.drop_index("ix_bounce_subscriber_received")
        batch_op.drop_index(batch_op.f("ix_bounce_outbound_message_id"))
        batch_op.drop_index(batch_op.f("ix_bounce_delivery_id"))
    op.drop_table("bounce")
