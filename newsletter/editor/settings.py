"""The organisation's settings, changed by administrators (the role table
admits only them)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter.editor.review_forms import REQUIRE_APPROVAL_CHOICES, SettingsForm
from newsletter.extensions import db
from newsletter.services import settings

bp = Blueprint("settings", __name__)


def _choice(value: object) -> str:
    """The form choice of a stored REQUIRE_APPROVAL value."""
    for choice, stored in REQUIRE_APPROVAL_CHOICES.items():
        if stored is value:
            return choice
    return "automatic"


@bp.route("/settings", methods=["GET", "POST"])
def index() -> str | Response | tuple[str, int]:
    """Show and save the organisation's settings."""
    form = SettingsForm()
    if form.validate_on_submit():
        settings.set_setting(
            settings.REQUIRE_APPROVAL,
            REQUIRE_APPROVAL_CHOICES[form.require_approval.data],
            current_user.name,
        )
        db.session.commit()
        flash(_("The settings are saved."), "success")
        return redirect(url_for("editor.settings.index"))
    if not form.is_submitted():
        form.require_approval.data = _choice(settings.stored(settings.REQUIRE_APPROVAL))
    return render_template(
        "editor/settings.html",
        form=form,
        require_approval=settings.require_approval(),
        publishers=settings.active_publishers(),
    ), (422 if form.errors else 200)
