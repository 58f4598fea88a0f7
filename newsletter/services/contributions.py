"""Proposals from partners: sent through a contribution link, changed by the
proposer through the proposal's private link while no editor has decided.

The editors' side (accept, return, decline) lives in its own module; it shares
ProposalData and `data_of` from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from newsletter.errors import Conflict, NotFound
from newsletter.extensions import db
from newsletter.models import (
    Contact,
    ContributionLink,
    OutboundMessage,
    Proposal,
    ProposalLink,
    Theme,
)
from newsletter.models.states import PROPOSALS, ProposalStatus, move
from newsletter.services import audit, plan
from newsletter.services.contributor_links import set_proposal_secret

MAX_LINKS = 10
# The states in which the proposer may still change a proposal.
CHANGEABLE = (ProposalStatus.NEW, ProposalStatus.RETURNED)
SUBMIT = PROPOSALS.step(to=ProposalStatus.NEW)
# A returned proposal goes back to the editors once its proposer has changed it.
RESUBMIT = PROPOSALS.step(*CHANGEABLE, to=ProposalStatus.NEW)


class StaleProposal(Conflict):
    """The proposal changed since the form was opened."""


class TooManyLinks(Conflict):
    """More links than a proposal can carry."""


@dataclass(frozen=True)
class LinkData:
    """One linked resource of a proposal."""

    label: str
    url: str


@dataclass(frozen=True)
class ProposalData:
    """What a proposer writes: an item to be, its contact, links and a note."""

    title: str
    body: str
    theme_id: int
    proposer_email: str
    contact_name: str = ""
    contact_title: str = ""
    contact_organisation: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    note: str = ""
    links: tuple[LinkData, ...] = field(default=())


# The proposal's own columns that ProposalData carries (links are rows of their own).
FIELDS = tuple(name for name in ProposalData.__dataclass_fields__ if name != "links")


def data_of(proposal: Proposal) -> ProposalData:
    """Return a proposal's current content as ProposalData."""
    return ProposalData(
        **{name: getattr(proposal, name) for name in FIELDS},
        links=tuple(LinkData(link.label, link.url) for link in proposal.links),
    )


def _snapshot(proposal: Proposal) -> dict[str, Any]:
    """The audited view of a proposal: its fields and its links as text."""
    fields = {name: getattr(proposal, name) for name in FIELDS}
    fields["links"] = "\n".join(f"{x.label} {x.url}" for x in proposal.links)
    fields["status"] = str(proposal.status) if proposal.status else None
    return fields


def _fill(proposal: Proposal, data: ProposalData) -> None:
    """Write the data into a proposal, replacing its links."""
    if len(data.links) > MAX_LINKS:
        raise TooManyLinks(str(len(data.links)))
    if db.session.get(Theme, data.theme_id) is None:
        raise NotFound("no such theme")
    values = asdict(data)
    for name in FIELDS:
        setattr(proposal, name, values[name])
    proposal.links = [
        ProposalLink(position=i, label=link.label, url=link.url)
        for i, link in enumerate(data.links)
    ]


def submit(
    link: ContributionLink, data: ProposalData, language: str, now: datetime
) -> Proposal:
    """Take a new proposal for the next planned issue and queue its receipt."""
    issue = plan.next_planned_issue(now)
    proposal = Proposal(
        link=link,
        issue_id=issue.id if issue else None,
        language=language,
        late=plan.is_late(issue, now),
        submitted_at=now,
        updated_at=now,
    )
    move(proposal, SUBMIT)
    _fill(proposal, data)
    set_proposal_secret(proposal)
    db.session.add(proposal)
    db.session.flush()
    audit.record(
        "proposal.submitted",
        "proposal",
        proposal.id,
        proposal.title,
        audit.changes({}, _snapshot(proposal) | {"late": proposal.late}),
        actor=audit.partner(link.organisation),
        at=now,
    )
    db.session.add(
        OutboundMessage(
            template="proposal_received",
            context={"proposal_id": proposal.id},
            language=language,
            to_address=data.proposer_email,
            to_name="",
            created_at=now,
        )
    )
    return proposal


def change(
    proposal: Proposal, data: ProposalData, expected_version: int, now: datetime
) -> Proposal:
    """Change a proposal no editor has decided on; a returned one is new again.

    Raises StaleProposal when it changed since the form showed `expected_version`,
    and InvalidState once it is accepted or declined.
    """
    if proposal.version != expected_version:
        raise StaleProposal(str(proposal.id))
    before = _snapshot(proposal)
    move(proposal, RESUBMIT)
    # The address the receipt went to stays: a private link must not be able to
    # point the editors' answers at somebody else.
    _fill(proposal, replace(data, proposer_email=proposal.proposer_email))
    proposal.updated_at = now
    db.session.flush()
    audit.record(
        "proposal.changed",
        "proposal",
        proposal.id,
        proposal.title,
        audit.changes(before, _snapshot(proposal)),
        actor=audit.partner(proposal.link.organisation),
        at=now,
    )
    return proposal


def is_changeable(proposal: Proposal) -> bool:
    """Whether the proposer may still change the proposal: no editor has decided
    and its contribution link was not revoked."""
    return proposal.status in CHANGEABLE and proposal.link.revoked_at is None


def saved_contacts(organisation: str) -> Sequence[Contact]:
    """The directory's contacts of one organisation (compared case-insensitively):
    a partner sees only their own organisation's people, never the directory."""
    wanted = organisation.strip().lower()
    if not wanted:
        return []
    return db.session.scalars(
        select(Contact)
        .where(func.lower(func.trim(Contact.organisation)) == wanted)
        .order_by(func.lower(Contact.name), Contact.id)
    ).all()


def contact_details(contact: Contact) -> Mapping[str, str]:
    """A saved contact as the proposal's contact fields."""
    return {
        "contact_name": contact.name,
        "contact_title": contact.title,
        "contact_organisation": contact.organisation,
        "contact_phone": contact.phone,
        "contact_email": contact.email,
    }
