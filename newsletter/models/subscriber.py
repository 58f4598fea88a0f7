"""Subscribers and the themes they chose."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.extensions import Model, db
from newsletter.models.consent import ConsentEvent
from newsletter.models.issue import Theme
from newsletter.models.states import SubscriberStatus
from newsletter.models.types import EnumString, UTCDateTime, enum_check, utcnow

subscriber_theme = Table(
    "subscriber_theme",
    db.metadata,
    Column(
        "subscriber_id",
        ForeignKey("subscriber.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "theme_id",
        ForeignKey("theme.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Subscriber(Model):
    """A person on the list; only confirmed subscribers receive issues."""

    __tablename__ = "subscriber"
    __table_args__ = (enum_check("status", SubscriberStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    language: Mapped[str] = mapped_column(String(5), default="sv")
    status: Mapped[SubscriberStatus] = mapped_column(
        EnumString(SubscriberStatus), default=SubscriberStatus.PENDING, index=True
    )
    # Bumped on unsubscribe and erase so that every earlier link stops working.
    token_version: Mapped[int] = mapped_column(default=1)
    bounce_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    themes: Mapped[list[Theme]] = relationship(
        secondary=subscriber_theme, order_by="Theme.position"
    )
    events: Mapped[list[ConsentEvent]] = relationship(
        order_by="ConsentEvent.id", viewonly=True
    )


class PendingSignUp(Model):
    """A sign-up of an address that was once on the list, held until confirmed.

    Anybody can type the address, so until its link is used the person stays as
    they were (status, name, language, themes, data page); confirming applies these
    choices. Deleted with the other stale sign-ups after PENDING_DAYS.
    """

    __tablename__ = "pending_sign_up"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(120), default="")
    language: Mapped[str] = mapped_column(String(5), default="sv")
    theme_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkRequest(Model):
    """A visitor's request for a new confirmation link, until the worker answers it.

    The web process stores every request alike, whatever state the address is in,
    so neither the answer nor the time it takes tells whether the address awaits
    a link; the worker then queues the email or drops the request.
    """

    __tablename__ = "link_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    how: Mapped[str] = mapped_column(String(120), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
