"""Contribution links and proposals as a partner's form would leave them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from newsletter.extensions import db
from newsletter.models import ContributionLink, Proposal, ProposalLink
from newsletter.models.types import utcnow
from newsletter.services.contributor_links import set_proposal_secret, set_token
from tests.factories import theme


def make_link(
    organisation: str = "Kalmar kommun", contact_email: str = "kontakt@kalmar.se"
) -> ContributionLink:
    """Create an open contribution link."""
    link = ContributionLink(organisation=organisation, contact_email=contact_email)
    set_token(link)
    db.session.add(link)
    db.session.commit()
    return link


def make_proposal(
    link: ContributionLink | None = None,
    theme_slug: str = "aldre",
    title: str = "Träffpunkter för äldre",
    links: list[tuple[str, str]] | None = None,
    submitted_at: datetime | None = None,
    **fields: Any,
) -> Proposal:
    """Create a new proposal as if sent through a link."""
    proposal = Proposal(
        link=link or make_link(),
        theme_id=theme(theme_slug).id,
        title=title,
        body=fields.pop("body", "Tre nya **träffpunkter** öppnar i januari."),
        proposer_email=fields.pop("proposer_email", "lena.berg@kalmar.se"),
        submitted_at=submitted_at or utcnow(),
        links=[
            ProposalLink(position=n, label=label, url=url)
            for n, (label, url) in enumerate(links or [])
        ],
        **fields,
    )
    set_proposal_secret(proposal)
    db.session.add(proposal)
    db.session.commit()
    return proposal
