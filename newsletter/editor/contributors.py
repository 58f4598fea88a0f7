"""Contribution links: partners propose items through them without an account."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter.editor.contribution_forms import ContributionLinkForm
from newsletter.editor.forms import ActionForm
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.models.types import utcnow
from newsletter.services import contributors
from newsletter.services.contributor_links import link_url

bp = Blueprint("contributors", __name__)


@bp.context_processor
def link_helpers() -> dict[str, object]:
    """Let the pages name a link's state and its last day."""
    return {
        "LinkState": contributors.LinkState,
        "link_state": contributors.link_state,
        "last_day": contributors.last_day,
        "state_label": state_label,
    }


def state_label(state: str) -> str:
    """Return the translated name of a link's state."""
    labels: dict[str, str] = {
        contributors.LinkState.OPEN: _("Open"),
        contributors.LinkState.EXPIRED: _("Expired"),
        contributors.LinkState.REVOKED: _("Revoked"),
    }
    return labels.get(state, state)


@bp.route("/contributors", methods=["GET", "POST"])
def link_list() -> str | Response | tuple[str, int]:
    """List the links and make a new one from the form beside them."""
    form = ContributionLinkForm()
    if form.validate_on_submit():
        try:
            link, _token = contributors.create_link(
                form.organisation.data,
                form.contact_email.data,
                form.contact_name.data,
                form.expires_on.data,
                current_user.name,
                utcnow(),
            )
            db.session.commit()
            flash(_("The contribution link is made."), "success")
            return redirect(url_for("editor.contributors.link", link_id=link.id))
        except contributors.ExpiryPassed:
            db.session.rollback()
            add_error(form.expires_on, _("Choose today or a later day."))
    return render_template(
        "editor/contributors.html",
        links=contributors.list_links(),
        form=form,
        now=utcnow(),
    ), (422 if form.errors else 200)


@bp.get("/contributors/<int:link_id>")
def link(link_id: int) -> str:
    """Show one link and its full address, to copy and send to the contact."""
    record = contributors.get_link(link_id)
    return render_template(
        "editor/contributor.html",
        link=record,
        url=link_url(record),
        state=contributors.link_state(record, utcnow()),
    )


@bp.post("/contributors/<int:link_id>/renew")
def renew(link_id: int) -> Response:
    """Give a link a new address when the old one can no longer be shown."""
    if not ActionForm().validate_on_submit():
        abort(400)
    contributors.renew_link(link_id, utcnow())
    db.session.commit()
    flash(_("The link has a new address; the old one no longer works."), "success")
    return redirect(url_for("editor.contributors.link", link_id=link_id))


@bp.post("/contributors/<int:link_id>/revoke")
def revoke(link_id: int) -> Response:
    """Close a link for good."""
    if not ActionForm().validate_on_submit():
        abort(400)
    contributors.revoke_link(link_id, current_user.name, utcnow())
    db.session.commit()
    flash(_("The link is revoked: it takes no more proposals."), "success")
    return redirect(url_for("editor.contributors.link", link_id=link_id))
