"""Review and history: comments, corrections of sent issues, revisions of saves,
and the organisation's settings that govern them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow


class Setting(Model):
    """An organisation setting administrators change in the app (e.g.
    REQUIRE_APPROVAL); a missing row means the built-in default."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
    updated_by: Mapped[str] = mapped_column(String(120), default="")


class Comment(Model):
    """A reviewer's or publisher's remark on an issue or one of its items; never
    part of the email or the archive."""

    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), index=True
    )
    # A comment on an item stays on the issue if the item is removed.
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("item.id", ondelete="SET NULL"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("editor.id", ondelete="SET NULL")
    )
    author: Mapped[str] = mapped_column(String(120), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str] = mapped_column(String(120), default="")


class Correction(Model):
    """A public correction of a sent issue's item, with its note."""

    __tablename__ = "correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("item.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str] = mapped_column(String(300))
    # {field: [before, after]} of the item.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")


class Revision(Model):
    """One save of an item or of an issue's header: who, when, every field."""

    __tablename__ = "revision"
    __table_args__ = (
        UniqueConstraint("object_type", "object_id", "number"),
        Index("ix_revision_issue", "issue_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(20))  # "item" or "issue"
    object_id: Mapped[int] = mapped_column()
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()  # 1, 2, … per object
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_by_id: Mapped[int | None] = mapped_column()
