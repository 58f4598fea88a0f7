"""Review of an issue: asking for it, approving, comments and their resolution.

The issue page and the item page show this blueprint's panel; its forms post here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from newsletter.database import get_row
from newsletter.editor.forms import ActionForm
from newsletter.editor.review_forms import ApproveForm, CommentForm, ReviewRequestForm
from newsletter.errors import Conflict
from newsletter.extensions import db
from newsletter.models import Issue, Item
from newsletter.models.review import Comment
from newsletter.models.types import utcnow
from newsletter.services import review, settings
from newsletter.web import item_heading

bp = Blueprint("review", __name__)


def request_form() -> ReviewRequestForm:
    """The review request form with the active reviewers and publishers."""
    form = ReviewRequestForm(prefix="review")
    form.reviewers.choices = [
        SelectChoice(r.id, f"{r.name} ({r.email})") for r in review.reviewer_choices()
    ]
    return form


def comment_form(issue: Issue, item: Item | None = None) -> CommentForm:
    """The comment form; on the issue page it offers the issue or any item."""
    form = CommentForm(prefix="comment")
    if item is not None:
        form.item_id.choices = [SelectChoice(item.id, item_heading(item))]
        form.item_id.data = item.id
    else:
        form.item_id.choices = [
            SelectChoice(0, _("The whole issue")),
            *(SelectChoice(i.id, item_heading(i)) for i in issue.items),
        ]
    return form


@bp.app_context_processor
def review_panel() -> dict[str, Any]:
    """Let the issue and item pages build the review panel when they show it."""

    def panel(issue: Issue, item: Item | None = None) -> dict[str, Any]:
        approver = current_user if current_user.is_authenticated else None
        return {
            "required": settings.require_approval(),
            "withdrawal": review.last_withdrawal(issue.id),
            "comments": review.comments(issue.id, item.id if item else None),
            "request_form": request_form(),
            "approve_form": ApproveForm(
                prefix="approve",
                version=issue.version,
                stamp=review.content_stamp(issue),
            ),
            "comment_form": comment_form(issue, item),
            "resolve_form": ActionForm(),
            "may_approve": approver is not None and approver.role in review.APPROVERS,
            "refusal": review.approval_refusal(issue, approver) if approver else None,
        }

    return {"review_panel": panel}


def _issue_page(issue_id: int) -> Response:
    """Back to the review panel of the issue page."""
    return redirect(url_for("editor.issues.edit", issue_id=issue_id, _anchor="review"))


def _flash_errors(*forms: Any) -> None:
    """Show a posted form's errors (the panel lives on another page)."""
    for form in forms:
        for name, errors in form.errors.items():
            for error in errors:
                label = getattr(getattr(form, name, None), "label", None)
                flash(f"{label.text}: {error}" if label else str(error), "error")


@bp.post("/issues/<int:issue_id>/review")
def request(issue_id: int) -> Response:
    """Mark the issue as in review and email the chosen reviewers."""
    issue = db.get_or_404(Issue, issue_id)
    form = request_form()
    if not form.validate_on_submit():
        _flash_errors(form)
        return _issue_page(issue.id)
    chosen = review.request_review(
        issue.id, form.reviewers.data or [], form.message.data or "", utcnow()
    )
    db.session.commit()
    if chosen:
        names = ", ".join(r.name for r in chosen)
        flash(_("Review is requested; %(names)s got an email.", names=names), "success")
    else:
        flash(_("The issue is marked as in review."), "success")
    return _issue_page(issue.id)


@bp.post("/issues/<int:issue_id>/approve")
def approve(issue_id: int) -> Response:
    """Approve the issue as the page showed it."""
    form = ApproveForm(prefix="approve")
    if not form.validate_on_submit():
        abort(400)
    try:
        version = int(form.version.data or 0)
    except ValueError:
        version = 0
    try:
        review.approve(issue_id, version, utcnow(), form.stamp.data or None)
    except Conflict:
        db.session.rollback()
        flash(_("The issue changed after you opened it. Look again, then approve."))
        return _issue_page(issue_id)
    db.session.commit()
    flash(_("The issue is approved."), "success")
    return _issue_page(issue_id)


@bp.post("/issues/<int:issue_id>/comments")
def comment(issue_id: int) -> Response:
    """Add a comment on the issue or one of its items."""
    issue = db.get_or_404(Issue, issue_id)
    form = comment_form(issue)
    if not form.validate_on_submit():
        _flash_errors(form)
        return _issue_page(issue.id)
    saved = review.add_comment(
        issue.id, form.item_id.data or None, form.body.data or ""
    )
    db.session.commit()
    flash(_("The comment is saved."), "success")
    if saved.item_id is not None:
        return redirect(url_for("editor.issues.item", item_id=saved.item_id))
    return _issue_page(issue.id)


@bp.post("/comments/<int:comment_id>/resolve")
def resolve_comment(comment_id: int) -> Response:
    """Mark a comment as resolved."""
    if not ActionForm().validate_on_submit():
        abort(400)
    comment = get_row(Comment, comment_id)
    review.resolve_comment(comment.id, utcnow())
    db.session.commit()
    flash(_("The comment is marked as resolved."), "success")
    return _issue_page(comment.issue_id)
