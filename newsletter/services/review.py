"""Review of an issue before it goes out: asking for review, a second person's
approval, its withdrawal when the content changes, and reviewers' comments.

Comments are the editorial office's own notes: nothing here is ever part of the
email, the archive or the feeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from newsletter.database import get_row, rows_changed
from newsletter.errors import Conflict, DomainError, InvalidState, NotFound
from newsletter.extensions import db
from newsletter.models import (
    AuditEvent,
    Editor,
    Issue,
    IssueStatus,
    Item,
    OutboundMessage,
    Role,
)
from newsletter.models.review import Comment
from newsletter.models.states import ISSUES
from newsletter.services import audit, settings

# Who may approve an issue, and whom an editor may ask to review one.
APPROVERS = (Role.PUBLISHER, Role.ADMIN)
REVIEWERS = (Role.REVIEWER, Role.PUBLISHER)
# A scheduled issue whose approval is withdrawn waits as a draft for a new one.
UNSCHEDULE_UNAPPROVED = ISSUES.step(IssueStatus.SCHEDULED, to=IssueStatus.DRAFT)
MAX_COMMENT = 4000
MAX_MESSAGE = 2000


class NotAllowed(DomainError):
    """The person may not do this; the message says why."""


class ApprovalMissing(DomainError):
    """The issue needs a second person's approval before it goes out."""


@dataclass(frozen=True)
class Withdrawal:
    """The last time an approval was withdrawn: when, by whose change, of what."""

    at: datetime
    name: str
    object_type: str
    title: str


def _editor(editor_id: int | None) -> Editor | None:
    """The account behind an actor, if any."""
    return db.session.get(Editor, editor_id) if editor_id else None


def _actor_name(actor: audit.Actor) -> str:
    """The name to show for an actor: the account's name, else its label."""
    account = _editor(actor.editor_id)
    return account.name if account is not None else actor.label


def may_send(issue: Issue) -> str | None:
    """Return why the issue may not go out to anybody but its editor, or None."""
    if issue.approved_at is not None or not settings.require_approval():
        return None
    return str(
        _l(
            "The issue must be approved by a publisher who did not make the last "
            "change before it can be sent, scheduled or test-sent to others."
        )
    )


def check_may_send(issue: Issue) -> None:
    """Raise ApprovalMissing with the reason when the issue may not go out."""
    reason = may_send(issue)
    if reason is not None:
        raise ApprovalMissing(reason)


def reviewer_choices() -> Sequence[Editor]:
    """Active accounts an editor may ask to review an issue."""
    return db.session.scalars(
        select(Editor)
        .where(Editor.active.is_(True), Editor.role.in_(REVIEWERS))
        .order_by(Editor.name)
    ).all()


def request_review(
    issue_id: int, reviewer_ids: Iterable[int], message: str, now: datetime
) -> list[Editor]:
    """Mark the issue as in review and email the named reviewers a link to it."""
    issue = get_row(Issue, issue_id)
    if not issue.is_editable:
        raise InvalidState(issue.status)
    wanted = set(reviewer_ids)
    reviewers = [r for r in reviewer_choices() if r.id in wanted]
    if len(reviewers) != len(wanted):
        raise NotFound("a chosen reviewer is not an active reviewer or publisher")
    _set(issue, review_requested_at=now)
    requester = audit.current_actor()
    for reviewer in reviewers:
        db.session.add(
            OutboundMessage(
                template="review_requested",
                context={
                    "issue_id": issue.id,
                    "requested_by": _actor_name(requester),
                    "message": message,
                },
                language="sv",
                to_address=reviewer.email,
                to_name=reviewer.name,
            )
        )
    audit.record(
        "issue.review_requested",
        "issue",
        issue.id,
        issue.title,
        {"reviewers": [None, [r.email for r in reviewers]], "message": [None, message]},
    )
    db.session.flush()
    return reviewers


def approval_refusal(issue: Issue, approver: Editor) -> str | None:
    """Return why this account may not approve the issue, or None."""
    if approver.role not in APPROVERS:
        return str(_l("Only a publisher can approve an issue."))
    # Issues saved before accounts were recorded name their last editor only.
    last_editor_is_approver = (
        issue.last_editor_id == approver.id
        if issue.last_editor_id is not None
        else issue.updated_by == approver.name
    )
    if last_editor_is_approver:
        return str(
            _l(
                "You made the last change to this issue; another publisher "
                "must approve it."
            )
        )
    if not issue.is_editable:
        return str(_l("Only an issue that has not been sent can be approved."))
    return None


def approvers(issue: Issue) -> list[Editor]:
    """Active accounts that may approve the issue as it stands now."""
    candidates = db.session.scalars(
        select(Editor)
        .where(Editor.active.is_(True), Editor.role.in_(APPROVERS))
        .order_by(Editor.name)
    )
    return [c for c in candidates if approval_refusal(issue, c) is None]


def content_stamp(issue: Issue) -> str:
    """What the approver saw: every change to the header, an item or a section
    moves the issue's updated_at (its version counts header saves only)."""
    return f"{issue.version}:{issue.updated_at.isoformat()}"


def approve(
    issue_id: int, expected_version: int, now: datetime, stamp: str | None = None
) -> Issue:
    """Approve the issue as the current editor, unless the rules say no; with a
    stamp, only if the content is still what the approver saw."""
    issue = get_row(Issue, issue_id)
    actor = audit.current_actor()
    approver = _editor(actor.editor_id)
    if approver is None:
        raise NotAllowed(str(_l("Only a publisher can approve an issue.")))
    refusal = approval_refusal(issue, approver)
    if refusal is not None:
        raise NotAllowed(refusal)
    if issue.version != expected_version or (
        stamp is not None and stamp != content_stamp(issue)
    ):
        raise Conflict("the issue changed after the page was opened")
    _set(issue, approved_at=now, approved_by=approver.name, approved_by_id=approver.id)
    audit.record(
        "issue.approved",
        "issue",
        issue.id,
        issue.title,
        {"approved_by": [None, approver.name]},
        actor=actor,
    )
    return issue


def unschedule_unapproved(issue_id: int, reason: str) -> None:
    """Turn a due scheduled issue that lacks a required approval back into a
    draft (the worker's way: it never sends unapproved content)."""
    changed = rows_changed(
        update(Issue)
        .where(Issue.id == issue_id, Issue.status.in_(UNSCHEDULE_UNAPPROVED.sources))
        .values(status=UNSCHEDULE_UNAPPROVED.target, scheduled_at=None)
        .execution_options(synchronize_session=False)
    )
    if changed:
        issue = get_row(Issue, issue_id)
        audit.record(
            "issue.unscheduled_unapproved",
            "issue",
            issue_id,
            issue.title,
            {
                "status": [UNSCHEDULE_UNAPPROVED.sources[0], issue.status],
                "reason": [None, reason],
            },
            actor=audit.WORKER,
        )


def _set(issue: Issue, **values: Any) -> None:
    """Change review columns by a statement: the header's version stays, so an
    open header form does not conflict with a review step."""
    changed = rows_changed(
        update(Issue)
        .where(Issue.id == issue.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed != 1:
        raise NotFound(f"issue {issue.id} does not exist")
    for name, value in values.items():
        set_committed_value(issue, name, value)


def withdraw_approval(
    issue: Issue, actor: audit.Actor, object_type: str, title: str
) -> None:
    """Withdraw the approval of an issue whose content changed, saying by whom and
    what; a scheduled issue goes back to draft until it is approved again."""
    if issue.approved_at is None:
        return
    values: dict[str, Any] = {
        "approved_at": None,
        "approved_by": "",
        "approved_by_id": None,
    }
    change: dict[str, Any] = {
        "approved_by": [issue.approved_by, None],
        "changed_by": [None, _actor_name(actor)],
        "changed": [None, object_type],
        "changed_title": [None, title],
    }
    if issue.status in UNSCHEDULE_UNAPPROVED.sources and settings.require_approval():
        values.update(status=UNSCHEDULE_UNAPPROVED.target, scheduled_at=None)
        change["status"] = [issue.status, UNSCHEDULE_UNAPPROVED.target]
    _set(issue, **values)
    audit.record(
        "issue.approval_withdrawn", "issue", issue.id, issue.title, change, actor=actor
    )


def last_withdrawal(issue_id: int) -> Withdrawal | None:
    """The issue's last withdrawn approval, for the issue page."""
    event = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "issue.approval_withdrawn",
            AuditEvent.object_type == "issue",
            AuditEvent.object_id == issue_id,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if event is None:
        return None

    def after(field: str) -> str:
        return str((event.changes.get(field) or [None, ""])[1] or "")

    return Withdrawal(
        event.at, after("changed_by"), after("changed"), after("changed_title")
    )


def add_comment(issue_id: int, item_id: int | None, body: str) -> Comment:
    """Add a reviewer's comment on the issue or one of its items."""
    issue = get_row(Issue, issue_id)
    if item_id is not None:
        item = get_row(Item, item_id)
        if item.issue_id != issue.id:
            raise NotFound(f"item {item_id} is not in issue {issue_id}")
    actor = audit.current_actor()
    comment = Comment(
        issue_id=issue.id,
        item_id=item_id,
        author_id=actor.editor_id,
        author=_actor_name(actor),
        body=body[:MAX_COMMENT],
    )
    db.session.add(comment)
    db.session.flush()
    audit.record(
        "comment.added",
        "comment",
        comment.id,
        issue.title,
        {"body": [None, comment.body], "item_id": [None, item_id]},
        actor=actor,
    )
    return comment


def resolve_comment(comment_id: int, now: datetime) -> Comment:
    """Mark a comment as dealt with."""
    comment = get_row(Comment, comment_id)
    if comment.resolved_at is not None:
        return comment
    actor = audit.current_actor()
    comment.resolved_at = now
    comment.resolved_by = _actor_name(actor)
    audit.record(
        "comment.resolved",
        "comment",
        comment.id,
        comment.body[:80],
        {"resolved_by": [None, comment.resolved_by]},
        actor=actor,
    )
    db.session.flush()
    return comment


def comments(issue_id: int, item_id: int | None = None) -> list[Comment]:
    """The comments of an issue (or of one item): open ones first, oldest first."""
    query = select(Comment).where(Comment.issue_id == issue_id)
    if item_id is not None:
        query = query.where(Comment.item_id == item_id)
    rows = db.session.scalars(query.order_by(Comment.created_at, Comment.id)).all()
    return sorted(rows, key=lambda c: c.resolved_at is not None)
