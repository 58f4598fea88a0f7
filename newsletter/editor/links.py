"""Link checks in the editor: adopt a redirect's final address, the archive report."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter.editor.forms import ActionForm
from newsletter.extensions import db
from newsletter.models import IssueStatus, LinkOutcome
from newsletter.services import links

bp = Blueprint("links", __name__)


@bp.post("/issues/<int:issue_id>/links/adopt")
def adopt_final_address(issue_id: int) -> Response:
    """Replace a redirected link by the address it leads to, in the whole issue."""
    url = request.form.get("url", "")
    if not ActionForm().validate_on_submit() or not url:
        abort(400)
    changed = links.adopt_final_address(issue_id, url, current_user.name)
    db.session.commit()
    if changed:
        flash(_("The link now uses the new address."), "success")
    else:
        flash(_("The link was not changed: it no longer redirects."), "error")
    return redirect(url_for("editor.issues.edit", issue_id=issue_id, _anchor="links"))


@bp.get("/links")
def archive_report() -> str:
    """Show the published archive's links that are broken, newest breaks first."""
    states = links.states_of(links.urls_of_issues([IssueStatus.SENT]))
    broken = [
        state
        for state in states
        if state.check is not None and state.check.outcome is LinkOutcome.BROKEN
    ]
    broken.sort(key=lambda state: state.check.broken_since or 0, reverse=True)  # type: ignore[union-attr]
    return render_template("editor/links.html", broken=broken, total=len(states))
