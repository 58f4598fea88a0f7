"""The audit trail: one appended row per change of state, never edited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow


class AuditEvent(Model):
    """Who did what to which object, when, and what it changed.

    Rows keep labels rather than foreign keys: an entry outlives the account,
    the partner link or the item it names.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        Index("ix_audit_event_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "editor", "command" (the command line), "worker", "partner" (a contribution
    # link holder) or "public" (a visitor without an account).
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column()  # the editor's id, if one
    actor: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column()
    object_title: Mapped[str] = mapped_column(String(300), default="")
    # {field: [before, after]}; secrets never appear.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
