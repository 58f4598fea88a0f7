"""API keys for other systems, made and revoked by administrators (the role table
admits only them). A new key is shown once, on the answer to the POST that made
it, and kept nowhere but as its hash: not in a URL, not in the session cookie
(which is signed, not encrypted). Each form carries a one-time number, so that
sending it again (reloading that answer) makes no second key."""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from newsletter.content import text_input
from newsletter.editor.forms import ActionForm
from newsletter.extensions import db
from newsletter.form_fields import StringField
from newsletter.models.types import utcnow
from newsletter.services import api_keys

bp = Blueprint("api_keys", __name__)

# Session key of the one-time number of the form last shown.
FORM_ONCE = "api_key_form"


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
    once = HiddenField()


def _page(form: ApiKeyForm, new_key: str | None = None) -> str:
    form.once.data = session[FORM_ONCE] = secrets.token_urlsafe(16)
    return render_template(
        "editor/api_keys.html",
        form=form,
        keys=api_keys.list_keys(),
        new_key=new_key,
        action=ActionForm(),
    )


@bp.route("/api-keys", methods=["GET", "POST"])
def key_list() -> Response | str | tuple[str, int]:
    """List keys; a valid POST makes a key and shows it this once."""
    form = ApiKeyForm()
    if form.validate_on_submit():
        if not secrets.compare_digest(
            str(form.once.data or ""), str(session.pop(FORM_ONCE, ""))
        ):
            flash(
                _(
                    "This form was sent before, and its key is in the list below. "
                    "A key is shown only once: if you did not copy it, revoke it "
                    "and make a new one."
                ),
                "error",
            )
            return redirect(url_for("editor.api_keys.key_list"), 303)
        made = api_keys.create_key(form.name.data, by=current_user.email)
        db.session.commit()
        # No redirect: the key must not be kept anywhere to show it again.
        return _page(ApiKeyForm(formdata=None), new_key=made.key), 201
    return _page(form), (422 if form.errors else 200)


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke(key_id: int) -> Response:
    """Revoke a key for good."""
    record = api_keys.revoke_key(key_id, utcnow())
    db.session.commit()
    flash(_("The key %(name)s no longer works.", name=record.name), "success")
    return redirect(url_for("editor.api_keys.key_list"))
