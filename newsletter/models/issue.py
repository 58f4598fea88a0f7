"""The content aggregate: themes, issues, their items and the items' links."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.extensions import Model
from newsletter.models.states import IssueStatus
from newsletter.models.types import EnumString, UTCDateTime, enum_check, utcnow

# Content can change only before sending starts.
EDITABLE = (IssueStatus.DRAFT, IssueStatus.SCHEDULED)


class Theme(Model):
    """A themed section such as "Barn och unga"; items belong to one theme."""

    __tablename__ = "theme"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # Archive pages and feeds show theme names: their Last-Modified needs this.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class Issue(Model):
    """One edition of the newsletter, from draft to sent."""

    __tablename__ = "issue"
    __table_args__ = (enum_check("status", IssueStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    intro: Mapped[str] = mapped_column(Text, default="")
    preheader: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[IssueStatus] = mapped_column(
        EnumString(IssueStatus), default=IssueStatus.DRAFT
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The plan: when the issue is meant to come out, and the last day partners
    # may propose items for it (both days in Europe/Stockholm).
    publish_on: Mapped[date | None] = mapped_column()
    contribution_deadline: Mapped[date | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set in the same transaction that writes the issue's delivery rows.
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    # Who last changed the content (a publisher approves only others' work).
    last_editor_id: Mapped[int | None] = mapped_column(
        ForeignKey("editor.id", ondelete="SET NULL")
    )
    # Review: asked for when, and approved by whom, when; any change to the
    # content after approval withdraws it (the audit trail keeps the history).
    review_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str] = mapped_column(String(120), default="", server_default="")
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("editor.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(default=1)

    items: Mapped[list[Item]] = relationship(
        back_populates="issue",
        cascade="all, delete-orphan",
        order_by="Item.position",
    )

    section_contacts: Mapped[list[SectionContact]] = relationship(
        back_populates="issue", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_editable(self) -> bool:
        """Content can change only before sending starts."""
        return self.status in EDITABLE


class Item(Model):
    """A piece of news inside one theme section of an issue."""

    __tablename__ = "item"
    __table_args__ = (Index("ix_item_section", "issue_id", "theme_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    version: Mapped[int] = mapped_column(default=1)
    # The partner's proposal this item was accepted from, if any.
    proposal_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal.id", ondelete="SET NULL"), index=True
    )
    # One optional image: the content-hashed name of its stored variants in
    # MEDIA_PATH (services/media.py), "" when there is none. Alt text is
    # required unless the image is marked decorative.
    image: Mapped[str] = mapped_column(String(100), default="", server_default="")
    image_alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    image_decorative: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    image_width: Mapped[int | None] = mapped_column()
    image_height: Mapped[int | None] = mapped_column()

    issue: Mapped[Issue] = relationship(back_populates="items")
    theme: Mapped[Theme] = relationship()
    links: Mapped[list[Link]] = relationship(
        back_populates="item",
        cascade="all, delete-orphan",
        order_by="Link.position",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def has_contact(self) -> bool:
        """Whether any contact detail is filled in."""
        return bool(self.contact_name or self.contact_phone or self.contact_email)


class IssuePdf(Model):
    """The PDF edition of a published issue, built by a worker once per
    content stamp (a correction changes the stamp, so the PDF is built again).
    A row of its own: building it must not bump the issue's version."""

    __tablename__ = "issue_pdf"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True
    )
    # What the PDF was built from; when it differs from the issue's current
    # stamp the PDF is stale and a worker builds it again.
    stamp: Mapped[str] = mapped_column(String(100))
    # The file's name in MEDIA_PATH (content-hashed), its size and build time.
    filename: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(default=0)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SectionContact(Model):
    """The contact person of one theme's section within one issue, shown at the
    top of that section; a copy, like an item's contact."""

    __tablename__ = "section_contact"
    __table_args__ = (UniqueConstraint("issue_id", "theme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")

    issue: Mapped[Issue] = relationship(back_populates="section_contacts")

    @property
    def has_contact(self) -> bool:
        """Whether any contact detail is filled in."""
        return bool(self.contact_name or self.contact_phone or self.contact_email)


class Link(Model):
    """A linked resource of an item: a label and an http(s) or mailto URL."""

    __tablename__ = "link"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("item.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))

    item: Mapped[Item] = relationship(back_populates="links")
