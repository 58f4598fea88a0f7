"""The durable outbox: one Delivery per (issue, subscriber), and transactional mail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow

DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "skipped")
MESSAGE_STATUSES = ("queued", "sending", "sent", "failed")


def _status_check(statuses: tuple[str, ...]) -> CheckConstraint:
    """Limit a status column to its known values."""
    return CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")", name="status"
    )


class QueuedMail:
    """The columns of a row in a mail queue: its state, its lease, its outcome.

    Only newsletter.mail.queue changes them.
    """

    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(255))


class Delivery(QueuedMail, Model):
    """One subscriber's copy of one issue, from queued to sent (or failed/skipped)."""

    __tablename__ = "delivery"
    __table_args__ = (
        _status_check(DELIVERY_STATUSES),
        UniqueConstraint("issue_id", "subscriber_id"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_issue_status", "issue_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), index=True
    )
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboundMessage(QueuedMail, Model):
    """A transactional email (test send, confirmation ...) waiting in the queue."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        _status_check(MESSAGE_STATUSES),
        Index("ix_outbound_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(80))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(5), default="sv")
    to_address: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(120), default="")
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
