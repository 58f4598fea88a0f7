"""The editors' inbox of partners' proposals: find them, accept, return or decline.

Each decision checks the version the editor saw: when another editor acted first
the decision is refused whole (StaleProposal), so nothing is written twice. Each
one records an audit event and queues an email to the proposer in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from newsletter.database import get_row
from newsletter.errors import Conflict
from newsletter.extensions import db
from newsletter.models import (
    AuditEvent,
    ContributionLink,
    Issue,
    Item,
    OutboundMessage,
    Proposal,
    ProposalStatus,
)
from newsletter.models.issue import EDITABLE
from newsletter.models.states import PROPOSALS, Step, move
from newsletter.services import audit, issues
from newsletter.services.issues import ItemData
from newsletter.services.plan import next_planned_issue

INBOX_LIMIT = 100

_R = ProposalStatus
ACCEPT = PROPOSALS.step(_R.NEW, _R.RETURNED, to=_R.ACCEPTED)
RETURN = PROPOSALS.step(_R.NEW, to=_R.RETURNED)
DECLINE = PROPOSALS.step(_R.NEW, _R.RETURNED, to=_R.DECLINED)


class StaleProposal(Conflict):
    """Somebody acted on the proposal (or its proposer changed it) since the
    editor opened it."""


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: one state and, optionally, one issue, theme and
    organisation."""

    status: ProposalStatus = ProposalStatus.NEW
    issue_id: int | None = None
    theme_id: int | None = None
    organisation: str = ""


@dataclass(frozen=True)
class InboxPage:
    """The newest proposals matching a filter, and whether more were left out."""

    proposals: Sequence[Proposal]
    more: bool


def list_proposals(wanted: InboxFilter, limit: int = INBOX_LIMIT) -> InboxPage:
    """Return the newest proposals that match the filter, at most `limit`."""
    query = (
        select(Proposal)
        .join(ContributionLink, Proposal.link_id == ContributionLink.id)
        .where(Proposal.status == wanted.status)
        .options(selectinload(Proposal.link))
        .order_by(Proposal.submitted_at.desc(), Proposal.id.desc())
    )
    if wanted.issue_id:
        query = query.where(Proposal.issue_id == wanted.issue_id)
    if wanted.theme_id:
        query = query.where(Proposal.theme_id == wanted.theme_id)
    if wanted.organisation:
        query = query.where(ContributionLink.organisation == wanted.organisation)
    rows = db.session.scalars(query.limit(limit + 1)).all()
    return InboxPage(rows[:limit], len(rows) > limit)


def count_new() -> int:
    """Return how many proposals wait for an editor."""
    return (
        db.session.scalar(
            select(func.count(Proposal.id)).where(Proposal.status == _R.NEW)
        )
        or 0
    )


def organisations() -> list[str]:
    """Return the organisations that have contribution links, for the filter."""
    return list(
        db.session.scalars(
            select(ContributionLink.organisation)
            .distinct()
            .order_by(ContributionLink.organisation)
        )
    )


def issues_of_proposals() -> list[Issue]:
    """Return the issues proposals were made for, newest first, for the filter."""
    return list(
        db.session.scalars(
            select(Issue)
            .where(Issue.id.in_(select(Proposal.issue_id)))
            .order_by(Issue.created_at.desc(), Issue.id.desc())
        )
    )


def editable_issues() -> list[Issue]:
    """Return the issues a proposal can still be placed in, newest first."""
    return list(
        db.session.scalars(
            select(Issue)
            .where(Issue.status.in_(EDITABLE))
            .order_by(Issue.created_at.desc(), Issue.id.desc())
        )
    )


def default_issue(proposal: Proposal, now: datetime) -> Issue | None:
    """Return where an accepted proposal goes unless the editor says otherwise:
    its own issue while editable, else the next planned issue."""
    own = db.session.get(Issue, proposal.issue_id) if proposal.issue_id else None
    if own is not None and own.is_editable:
        return own
    return next_planned_issue(now)


def history(proposal_id: int) -> Sequence[AuditEvent]:
    """Return the audit events about a proposal, oldest first."""
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "proposal")
        .where(AuditEvent.object_id == proposal_id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()


def accepted_item(proposal_id: int) -> Item | None:
    """Return the item an accepted proposal became, if it still exists."""
    return db.session.scalar(
        select(Item).where(Item.proposal_id == proposal_id).limit(1)
    )


def _opened_at(proposal_id: int, version: int) -> Proposal:
    """Return the proposal if it is still at the version the editor saw."""
    proposal = get_row(Proposal, proposal_id)
    if proposal.version != version:
        raise StaleProposal(str(proposal_id))
    return proposal


def _decide(
    proposal: Proposal, step: Step[ProposalStatus], editor: str, now: datetime
) -> str:
    """Move a proposal by a decision step and flush it; return the old state.

    The flush checks the version in the database too, so a decision made by
    somebody else a moment ago is refused here.
    """
    before = str(proposal.status)
    move(proposal, step)
    proposal.decided_at = now
    proposal.decided_by = editor
    try:
        db.session.flush()
    except StaleDataError:
        raise StaleProposal(str(proposal.id)) from None
    return before


def _email(proposal: Proposal, template: str, now: datetime, **ids: int) -> None:
    """Queue an email about a proposal to its proposer, in their language, with
    the editor's message as it is now (a later decision may change it)."""
    db.session.add(
        OutboundMessage(
            template=template,
            context={
                "proposal_id": proposal.id,
                "message": proposal.editor_message,
                **ids,
            },
            language=proposal.language,
            to_address=proposal.proposer_email,
            to_name="",
            created_at=now,
        )
    )


def accept(
    proposal_id: int,
    version: int,
    issue_id: int,
    data: ItemData,
    editor: str,
    now: datetime,
) -> Item:
    """Place a proposal as a new item at the end of its section of an issue.

    Raises StaleProposal when somebody acted first, NotEditable when the issue
    has started sending, InvalidState when the proposal was already decided.
    """
    proposal = _opened_at(proposal_id, version)
    ACCEPT.check(proposal.status)
    issue = issues.editable_issue(issue_id)
    before = _decide(proposal, ACCEPT, editor, now)
    item = issues.add_item(issue.id, data, editor)
    item.proposal_id = proposal.id
    db.session.flush()
    audit.record(
        "proposal.accepted",
        "proposal",
        proposal.id,
        proposal.title,
        {
            "status": [before, str(proposal.status)],
            "item_id": [None, item.id],
            "issue_id": [None, issue.id],
            "issue": [None, issue.title],
        },
        at=now,
    )
    _email(proposal, "proposal_accepted", now, item_id=item.id)
    return item


def _answer(
    proposal_id: int,
    version: int,
    message: str,
    step: Step[ProposalStatus],
    action: str,
    editor: str,
    now: datetime,
) -> Proposal:
    """Return or decline a proposal with a message, record it and tell the
    proposer (the template is named after the action)."""
    proposal = _opened_at(proposal_id, version)
    step.check(proposal.status)
    proposal.editor_message = message
    before = _decide(proposal, step, editor, now)
    audit.record(
        f"proposal.{action}",
        "proposal",
        proposal.id,
        proposal.title,
        {"status": [before, str(proposal.status)], "editor_message": [None, message]},
        at=now,
    )
    _email(proposal, f"proposal_{action}", now)
    return proposal


def return_proposal(
    proposal_id: int, version: int, message: str, editor: str, now: datetime
) -> Proposal:
    """Ask the proposer for changes; the email carries the message and their link."""
    return _answer(proposal_id, version, message, RETURN, "returned", editor, now)


def decline(
    proposal_id: int, version: int, message: str, editor: str, now: datetime
) -> Proposal:
    """Decline a proposal, with an optional message to the proposer."""
    return _answer(proposal_id, version, message, DECLINE, "declined", editor, now)
