"""Bounces and complaints: what came back about a message after it was sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import EnumString, UTCDateTime, enum_check, utcnow


class BounceKind(StrEnum):
    """What a report says about one message."""

    # The address does not exist (5.1.x, 5.2.1 ...): the subscriber is bounced.
    HARD = "hard"
    # Delayed, or refused for a reason that may pass (a full mailbox, 4.x.x):
    # BOUNCE_LIMIT of them within BOUNCE_WINDOW_DAYS bounce the subscriber.
    SOFT = "soft"
    # Refused for its content or the sender's standing (5.7.x, 5.6.x, 5.3.x): the
    # address is fine, so the subscriber stays.
    REJECTED = "rejected"
    # The recipient reported the message as spam: unsubscribed at once.
    COMPLAINT = "complaint"


class Bounce(Model):
    """One bounce or complaint, tied to the delivery or message it is about."""

    __tablename__ = "bounce"
    __table_args__ = (
        enum_check("kind", BounceKind),
        Index("ix_bounce_subscriber_received", "subscriber_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[BounceKind] = mapped_column(EnumString(BounceKind))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE")
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery.id", ondelete="CASCADE"), index=True
    )
    outbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_message.id", ondelete="CASCADE"), index=True
    )
    # The enhanced status code (RFC 3463), e.g. 5.1.1, when the report gives one.
    status: Mapped[str] = mapped_column(String(12), default="")
    # The remote server's own words (a DSN's Diagnostic-Code, an SMTP reply).
    reason: Mapped[str] = mapped_column(Text, default="")
    # How it came: "dsn", "smtp" (refused during the session) or "arf".
    source: Mapped[str] = mapped_column(String(10), default="")
    # A digest of the report, so that a report read twice is recorded once.
    report_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
