"""The organisation's settings, changed by administrators (the role table
admits only them)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter.config import settings as config
from newsletter.editor.review_forms import REQUIRE_APPROVAL_CHOICES, SettingsForm
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.request_limits import size_label, takes_file
from newsletter.services import identity, settings
from newsletter.services.identity import IdentityRefused
from newsletter.services.media import ImageRefused

bp = Blueprint("settings", __name__)


def _choice(value: object) -> str:
    """The form choice of a stored REQUIRE_APPROVAL value."""
    for choice, stored in REQUIRE_APPROVAL_CHOICES.items():
        if stored is value:
            return choice
    return "automatic"


EXAMPLE_FOOTER = "Nyhetsbrev – 4 gånger per år med aktuell information"
# The text fields of the identity, as the form and the service name them.
TEXT_FIELDS = tuple(
    name
    for name in identity.FIELDS
    if name not in ("logo", "logo_width", "logo_height")
)


def _logo(form: SettingsForm) -> dict[str, object] | None:
    """The logo fields to keep: removed, a new upload (stored at once, its name
    kept in the form should the form be shown again), an upload kept from before,
    or as they were; None (with an error on the field) when the upload is
    refused or a kept upload is gone."""
    if form.remove_logo.data:
        form.pending_logo.data = ""
        return {"logo": "", "logo_width": 0, "logo_height": 0}
    upload = form.logo.data
    if upload is None or not getattr(upload, "filename", ""):
        if form.pending_logo.data:
            kept = identity.find_logo(form.pending_logo.data)
            if kept is None:
                form.pending_logo.data = ""
                add_error(
                    form.logo, _("The logo chosen before is gone. Choose it again.")
                )
            return kept
        current = identity.stored()
        return {
            key: current.get(key, "") for key in ("logo", "logo_width", "logo_height")
        }
    limit = config().image_max_bytes
    data = upload.read(limit + 1)
    if len(data) > limit:
        add_error(
            form.logo, _("The logo is larger than %(size)s.", size=size_label(limit))
        )
        return None
    try:
        stored = identity.store_logo(data)
    except ImageRefused as refused:
        add_error(form.logo, str(refused))
        return None
    form.pending_logo.data = str(stored["logo"])
    return stored


def _save_identity(form: SettingsForm, logo: dict[str, object]) -> bool:
    """Keep the identity from the form; False (with field errors) if refused."""
    values = {name: getattr(form, name).data for name in TEXT_FIELDS} | logo
    try:
        identity.save(values, current_user.name)
    except IdentityRefused as refused:
        add_error(getattr(form, refused.field), refused.message)
        return False
    return True


def _placeholders(form: SettingsForm) -> None:
    """Show in each empty field what it falls back to."""
    base = identity.defaults()
    shown = {
        "organisation": base.organisation,
        "newsletter_name": base.newsletter_name,
        "brand_colour": base.brand_colour,
        "sender_name": base.sender_name,
        "footer_text": _("For example: %(text)s", text=EXAMPLE_FOOTER),
    }
    for name, text in shown.items():
        if text:
            getattr(form, name).render_kw = {"placeholder": text}
    form.logo.render_kw = {"accept": "image/png,image/jpeg,image/webp"}


def _fill(form: SettingsForm) -> None:
    """Show what is stored; an empty field shows its default as a placeholder."""
    form.require_approval.data = _choice(settings.stored(settings.REQUIRE_APPROVAL))
    kept = identity.stored()
    for name in TEXT_FIELDS:
        getattr(form, name).data = str(kept.get(name, ""))


@bp.route("/settings", methods=["GET", "POST"])
@takes_file(lambda config: config.image_max_bytes)
def index() -> str | Response | tuple[str, int]:
    """Show and save the organisation's settings and identity."""
    form = SettingsForm()
    # The logo is taken even when another field is refused, so that the page
    # shown again keeps it and the next save needs no second upload.
    valid = form.validate_on_submit()
    logo = _logo(form) if form.is_submitted() else None
    if valid and logo is not None and _save_identity(form, logo):
        settings.set_setting(
            settings.REQUIRE_APPROVAL,
            REQUIRE_APPROVAL_CHOICES[form.require_approval.data],
            current_user.name,
        )
        db.session.commit()
        flash(_("The settings are saved."), "success")
        return redirect(url_for("editor.settings.index"))
    if not form.is_submitted():
        _fill(form)
    _placeholders(form)
    pending = identity.find_logo(form.pending_logo.data or "")
    return render_template(
        "editor/settings.html",
        form=form,
        pending=identity.Identity("", "", **pending) if pending else None,
        current=identity.identity(),
        require_approval=settings.require_approval(),
        publishers=settings.active_publishers(),
    ), (422 if form.errors else 200)
