"""API keys for other systems, made and revoked by administrators (the role table
admits only them). A new key is shown once, on the page the POST that made it
redirects to; only its hash is kept."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.validators import DataRequired, Length

from newsletter.content import text_input
from newsletter.editor.forms import ActionForm
from newsletter.extensions import db
from newsletter.form_fields import StringField
from newsletter.models.types import utcnow
from newsletter.services import api_keys

bp = Blueprint("api_keys", __name__)

# Session key holding a new key's plaintext from its POST to the one GET that shows
# it (and forgets it), so that reloading the page cannot make a second key.
NEW_KEY = "api_key_new"


class ApiKeyForm(FlaskForm):
    """The name of a new key: who or what uses it."""

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Say who or what will use the key.")),
            Length(max=120),
        ],
        filters=[text_input],
    )


def _page(form: ApiKeyForm, new_key: str | None = None) -> str:
    return render_template(
        "editor/api_keys.html",
        form=form,
        keys=api_keys.list_keys(),
        new_key=new_key,
        action=ActionForm(),
    )


@bp.route("/api-keys", methods=["GET", "POST"])
def key_list() -> Response | str | tuple[str, int]:
    """List keys; a valid POST makes a key, which the next GET shows this once."""
    form = ApiKeyForm()
    if form.validate_on_submit():
        made = api_keys.create_key(form.name.data, by=current_user.email)
        db.session.commit()
        session[NEW_KEY] = made.key
        return redirect(url_for("editor.api_keys.key_list"), 303)
    if form.errors:
        return _page(form), 422
    # Editor pages are sent with Cache-Control: no-store, so the key is not kept
    # by the browser either; the session forgets it here.
    return _page(form, new_key=session.pop(NEW_KEY, None))


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke(key_id: int) -> Response:
    """Revoke a key for good."""
    record = api_keys.revoke_key(key_id, utcnow())
    db.session.commit()
    flash(_("The key %(name)s no longer works.", name=record.name), "success")
    return redirect(url_for("editor.api_keys.key_list"))
