"""Contributions: partner organisations' links and the items they propose."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.extensions import Model
from newsletter.models.states import ProposalStatus
from newsletter.models.types import EnumString, UTCDateTime, enum_check, utcnow


class ContributionLink(Model):
    """A partner's way to propose items without an account.

    The random token is found by its SHA-256 hash; beside it the token is kept
    sealed with a key derived from the secret key, so that reminders and the
    editors can give the address again while the database alone opens no form.
    Revoking the row closes the link for good.
    """

    __tablename__ = "contribution_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(320))
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_sealed: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str] = mapped_column(String(120), default="")

    def is_open(self, now: datetime) -> bool:
        """Whether the link still takes proposals."""
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > now
        )


class Proposal(Model):
    """An item a partner proposed; it becomes an Item only when an editor accepts."""

    __tablename__ = "proposal"
    __table_args__ = (
        enum_check("status", ProposalStatus),
        Index("ix_proposal_status_submitted", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("contribution_link.id"), index=True)
    # The issue it was proposed for: the next planned one when it was sent.
    issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("issue.id", ondelete="SET NULL"), index=True
    )
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    status: Mapped[ProposalStatus] = mapped_column(
        EnumString(ProposalStatus), default=ProposalStatus.NEW
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_title: Mapped[str] = mapped_column(String(120), default="")
    contact_organisation: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # to the editor only
    proposer_email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="sv")
    # Part of the proposer's signed private link; a new value ends the old links.
    edit_secret: Mapped[str] = mapped_column(String(64), unique=True)
    # Sent after the issue's contribution deadline: still taken, but marked.
    late: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
    # The editor's last message to the proposer (returned or declined).
    editor_message: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(120), default="")
    version: Mapped[int] = mapped_column(default=1)

    link: Mapped[ContributionLink] = relationship()
    links: Mapped[list[ProposalLink]] = relationship(
        back_populates="proposal",
        cascade="all, delete-orphan",
        order_by="ProposalLink.position",
    )

    __mapper_args__ = {"version_id_col": version}


class ProposalLink(Model):
    """A linked resource of a proposal: a label and an http(s) address."""

    __tablename__ = "proposal_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))

    proposal: Mapped[Proposal] = relationship(back_populates="links")


class ContributionReminder(Model):
    """That a link's contact was reminded of one issue's deadline (once only)."""

    __tablename__ = "contribution_reminder"
    __table_args__ = (UniqueConstraint("link_id", "issue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(
        ForeignKey("contribution_link.id", ondelete="CASCADE")
    )
    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), index=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
