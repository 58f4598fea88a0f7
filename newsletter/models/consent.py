"""Consent: an append-only record per subscriber, and suppressed addresses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.states import ConsentKind
from newsletter.models.types import EnumString, UTCDateTime, enum_check, utcnow


class ConsentEvent(Model):
    """One request, confirmation, change or withdrawal: when, from where, how."""

    __tablename__ = "consent_event"
    __table_args__ = (enum_check("kind", ConsentKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ConsentKind] = mapped_column(EnumString(ConsentKind, 30))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    how: Mapped[str] = mapped_column(String(120), default="")
    consent_version: Mapped[str] = mapped_column(String(40), default="")
    consent_text: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class Suppression(Model):
    """An erased address, kept only as a hash so imports cannot re-add it."""

    __tablename__ = "suppression"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(30), default="erased")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportDraft(Model):
    """An uploaded subscriber file waiting for the editor to check the preview."""

    __tablename__ = "import_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
