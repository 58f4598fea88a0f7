"""Contribution links as the editors manage them: make, list, renew and revoke.

The token itself is never stored in clear nor written to the audit trail: a link
keeps its hash and a sealed copy (see contributor_links), so the address can be
shown again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select

from newsletter.database import get_row
from newsletter.errors import DomainError, InvalidState
from newsletter.extensions import db
from newsletter.models import ContributionLink, Proposal
from newsletter.services import audit
from newsletter.services.contributor_links import set_token
from newsletter.services.plan import deadline_end, local_day
from newsletter.services.subscribers import normalise_address


class ExpiryPassed(DomainError):
    """The expiry date asked for is already over."""


class LinkRevoked(InvalidState):
    """A revoked link stays revoked: it cannot be revoked or renewed again."""


class LinkState(StrEnum):
    """Whether a link takes proposals, as the list shows it (not a stored status)."""

    OPEN = "open"
    EXPIRED = "expired"
    REVOKED = "revoked"


def link_state(link: ContributionLink, now: datetime) -> LinkState:
    """Return whether a link is open, expired or revoked."""
    if link.revoked_at is not None:
        return LinkState.REVOKED
    if link.expires_at is not None and link.expires_at <= now:
        return LinkState.EXPIRED
    return LinkState.OPEN


def last_day(link: ContributionLink) -> date | None:
    """Return the last Stockholm day a link with an expiry takes proposals."""
    if link.expires_at is None:
        return None
    return local_day(link.expires_at - timedelta(seconds=1))


@dataclass(frozen=True)
class LinkSummary:
    """A link with how many proposals came through it and when the last came."""

    link: ContributionLink
    proposals: int
    last_proposal_at: datetime | None


def list_links() -> list[LinkSummary]:
    """Return every link, newest first, with its proposal count and latest date."""
    counts = (
        select(
            Proposal.link_id,
            func.count(Proposal.id).label("proposals"),
            func.max(Proposal.submitted_at).label("last"),
        )
        .group_by(Proposal.link_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ContributionLink, counts.c.proposals, counts.c.last)
        .outerjoin(counts, counts.c.link_id == ContributionLink.id)
        .order_by(ContributionLink.created_at.desc(), ContributionLink.id.desc())
    ).all()
    return [LinkSummary(link, count or 0, last) for link, count, last in rows]


def get_link(link_id: int) -> ContributionLink:
    """Return a link or raise NotFound."""
    return get_row(ContributionLink, link_id)


def expiry_moment(expires_on: date | None, now: datetime) -> datetime | None:
    """Return when a link given until this Stockholm day closes (at midnight
    after it), refusing a day already over."""
    if expires_on is None:
        return None
    if expires_on < local_day(now):
        raise ExpiryPassed(expires_on.isoformat())
    return deadline_end(expires_on)


def create_link(
    organisation: str,
    contact_email: str,
    contact_name: str,
    expires_on: date | None,
    created_by: str,
    now: datetime,
) -> tuple[ContributionLink, str]:
    """Make a new link and return it with its token (to show once, never stored).

    Raises InvalidAddress for a bad contact address and ExpiryPassed for an
    expiry day that is over.
    """
    link = ContributionLink(
        organisation=organisation.strip(),
        contact_email=normalise_address(contact_email),
        contact_name=contact_name.strip(),
        created_at=now,
        created_by=created_by,
        expires_at=expiry_moment(expires_on, now),
    )
    token = set_token(link)
    db.session.add(link)
    db.session.flush()
    audit.record(
        "contribution_link.created",
        "contribution_link",
        link.id,
        link.organisation,
        audit.changes(
            {},
            {
                "organisation": link.organisation,
                "contact_email": link.contact_email,
                "contact_name": link.contact_name,
                "expires_at": link.expires_at,
            },
        ),
        at=now,
    )
    return link, token


def renew_link(link_id: int, now: datetime) -> tuple[ContributionLink, str]:
    """Give a link a new address (the old one stops working) and return both."""
    link = get_link(link_id)
    if link.revoked_at is not None:
        raise LinkRevoked(LinkState.REVOKED)
    token = set_token(link)
    db.session.flush()
    audit.record(
        "contribution_link.renewed",
        "contribution_link",
        link.id,
        link.organisation,
        at=now,
    )
    return link, token


def revoke_link(link_id: int, revoked_by: str, now: datetime) -> ContributionLink:
    """Close a link for good; proposals already sent stay in the inbox."""
    link = get_link(link_id)
    if link.revoked_at is not None:
        raise LinkRevoked(LinkState.REVOKED)
    before = link_state(link, now)
    link.revoked_at = now
    link.revoked_by = revoked_by
    db.session.flush()
    audit.record(
        "contribution_link.revoked",
        "contribution_link",
        link.id,
        link.organisation,
        {"state": [str(before), str(LinkState.REVOKED)]},
        at=now,
    )
    return link
