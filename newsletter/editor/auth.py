"""Logging in and out."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from newsletter.config import settings
from newsletter.editor.forms import AccountPasswordForm, ActionForm, LoginForm
from newsletter.extensions import db, limiter
from newsletter.form_fields import add_error
from newsletter.i18n import local_path
from newsletter.rate_limits import login_unlocks, take_back_this_attempt
from newsletter.services import audit, editors

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Return a local path to continue to, never another site."""
    if target and local_path(target) == target:
        return target
    return url_for("editor.issues.index")


def _account_from_this_address() -> str:
    """Key login attempts on the account, read as authentication reads it, together
    with the client address: failures from one place never lock the editor out of
    another. Only failures count: a login that succeeds takes its attempt back, and
    `flask editors unlock` moves the account's attempts to new keys."""
    account = editors.normalise_email(request.form.get("email", ""))[:320]
    return f"login {get_remote_address()} {account} {login_unlocks(account)}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: settings().login_rate_limit, methods=["POST"])
@limiter.limit(
    lambda: settings().login_account_rate_limit,
    key_func=_account_from_this_address,
    methods=["POST"],
)
def login() -> str | Response:
    """Show the login form and log an editor in."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        editor = editors.authenticate(form.email.data, form.password.data)
        if editor is not None:
            audit.record(
                "editor.logged_in",
                "editor",
                editor.id,
                editor.email,
                actor=audit.Actor("editor", editor.email, editor.id),
            )
            db.session.commit()
            take_back_this_attempt()
            session.pop("csrf_token", None)  # a new token for the new identity
            login_user(editor, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        db.session.rollback()
        flash(_("Wrong email address or password."), "error")
    return render_template("editor/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    """Log the editor out."""
    if ActionForm().validate_on_submit():
        editors.end_sessions(current_user.id)
        audit.record("editor.logged_out", "editor", current_user.id, current_user.email)
        db.session.commit()
        logout_user()
        flash(_("You are logged out."), "info")
    return redirect(url_for("editor.auth.login"))


@bp.route("/account", methods=["GET", "POST"])
def account() -> str | Response | tuple[str, int]:
    """Let an editor change their own password."""
    form = AccountPasswordForm()
    if form.validate_on_submit() and not current_user.check_password(
        form.current_password.data
    ):
        add_error(form.current_password, _("The current password is wrong."))
    elif form.validate_on_submit():
        editors.set_password(current_user.id, form.password.data)
        audit.record(
            "editor.password_changed", "editor", current_user.id, current_user.email
        )
        db.session.commit()
        login_user(current_user._get_current_object())  # keep this session valid
        flash(_("Your password is changed."), "success")
        return redirect(url_for("editor.auth.account"))
    return render_template("editor/account.html", form=form), (
        422 if form.errors else 200
    )
