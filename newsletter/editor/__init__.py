"""The editor area: everything under /editor is behind login.

Each module is a blueprint of its own (editor.auth, editor.issues, ...), nested in
this one, which holds what they share: the login check, no caching, error pages.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter import permissions
from newsletter.editor import (
    admin,
    api_keys,
    audit,
    auth,
    contacts,
    contributors,
    feeds,
    history,
    inbox,
    issues,
    links,
    review,
    sending,
    settings,
    subscribers,
    writing,
)
from newsletter.extensions import db
from newsletter.labels import role_label
from newsletter.models.types import utcnow
from newsletter.services import proposals, workers
from newsletter.services.issues import NotEditable
from newsletter.services.review import ApprovalMissing, NotAllowed
from newsletter.services.sending import WrongState
from newsletter.web import answer_domain_errors

bp = Blueprint("editor", __name__, url_prefix="/editor")
bp.register_blueprint(auth.bp)
bp.register_blueprint(issues.bp)
bp.register_blueprint(feeds.bp)
bp.register_blueprint(sending.bp)
bp.register_blueprint(subscribers.bp)
bp.register_blueprint(contacts.bp)
bp.register_blueprint(admin.bp)
bp.register_blueprint(links.bp)
bp.register_blueprint(contributors.bp)
bp.register_blueprint(inbox.bp)
bp.register_blueprint(review.bp)
bp.register_blueprint(settings.bp)
bp.register_blueprint(history.bp)
bp.register_blueprint(audit.bp)
bp.register_blueprint(writing.bp)
bp.register_blueprint(api_keys.bp)
answer_domain_errors(bp)

PUBLIC_ENDPOINTS = {"editor.auth.login"}


@bp.before_request
def require_login() -> Response | None:
    """Send anonymous visitors of any editor page to the login form."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return redirect(url_for("editor.auth.login", next=request.full_path.rstrip("?")))


@bp.before_request
def require_role() -> tuple[str, int] | None:
    """Refuse, with a page naming the roles needed, what the written table of
    permissions does not admit for the editor's role."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return None
    needed = permissions.admitted(endpoint, request.method)
    if current_user.role in needed:
        return None
    names = [role_label(role) for role in permissions.Role if role in needed]
    return render_template(
        "editor/forbidden.html", needed=names, role=role_label(current_user.role)
    ), 403


def may(endpoint: str, method: str | None = None) -> bool:
    """Tell templates whether the logged-in editor may use an endpoint (with one
    method, or with all it lists), to hide what the role cannot do."""
    if not current_user.is_authenticated:
        return False
    return permissions.may(current_user.role, endpoint, method)


def _worker_missing() -> bool:
    """Tell whether mail waits while no worker has been seen for two minutes."""
    return workers.worker_missing(utcnow())


@bp.context_processor
def worker_warning() -> dict[str, object]:
    """Let editor pages ask, when they are shown, whether to warn of a missing
    worker and how many proposals wait (asked only then: an error page must not
    touch the database)."""
    return {
        "worker_missing": _worker_missing,
        "new_proposals": proposals.count_new,
        "may": may,
    }


@bp.after_request
def no_store(response: Response) -> Response:
    """Keep editor pages out of shared caches and the back-button cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(NotEditable)
def not_editable(error: NotEditable) -> tuple[str, int]:
    """Explain that an issue that is sending or sent cannot change."""
    db.session.rollback()
    return render_template("editor/not_editable.html", status=str(error)), 409


@bp.errorhandler(WrongState)
def wrong_state(error: WrongState) -> Response:
    """Explain that the issue has moved on (someone else sent or paused it)."""
    db.session.rollback()
    flash(
        _("That is not possible while the issue is %(status)s.", status=error.status),
        "error",
    )
    return redirect(url_for("editor.issues.index"))


@bp.errorhandler(ApprovalMissing)
@bp.errorhandler(NotAllowed)
def refused(error: ApprovalMissing | NotAllowed) -> Response:
    """Say why an issue may not go out (or be approved) and show the issue."""
    db.session.rollback()
    flash(str(error), "error")
    issue_id = (request.view_args or {}).get("issue_id")
    if issue_id is None:
        return redirect(url_for("editor.issues.index"))
    return redirect(url_for("editor.issues.edit", issue_id=issue_id))
