"""The durable outbox: one Delivery per (issue, subscriber), and transactional mail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.states import DeliveryStatus, MessageStatus
from newsletter.models.types import EnumString, UTCDateTime, enum_check, utcnow


class QueuedMail:
    """The columns of a row in a mail queue: its lease and its outcome (each table
    has its own status enum).

    Only newsletter.mail.queue changes them.
    """

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
        enum_check("status", DeliveryStatus),
        UniqueConstraint("issue_id", "subscriber_id"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_issue_status", "issue_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        EnumString(DeliveryStatus), default=DeliveryStatus.QUEUED
    )
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), index=True
    )
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboundMessage(QueuedMail, Model):
    """A transactional email (test send, confirmation ...) waiting in the queue."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        enum_check("status", MessageStatus),
        Index("ix_outbound_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[MessageStatus] = mapped_column(
        EnumString(MessageStatus), default=MessageStatus.QUEUED
    )
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
