"""Admin pages: themes and editor accounts."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter.editor.forms import (
    ActionForm,
    EditorRoleForm,
    MoveForm,
    NewEditorForm,
    PasswordFields,
    ThemeForm,
)
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.models import Editor, Theme
from newsletter.services import audit, editors, themes

bp = Blueprint("admin", __name__)


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse editors who are not administrators."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/themes", methods=["GET", "POST"])
@admin_required
def theme_list() -> str | Response | tuple[str, int]:
    """List themes and add a new one."""
    form = ThemeForm()
    if form.validate_on_submit():
        try:
            themes.create_theme(form.name.data, form.description.data)
            db.session.commit()
            flash(_("The theme is added."), "success")
            return redirect(url_for("editor.admin.theme_list"))
        except themes.ThemeNameTaken:
            db.session.rollback()
            add_error(form.name, _("A theme with this name or address already exists."))
    return render_template(
        "editor/themes.html",
        themes=themes.list_themes(),
        form=form,
        action=ActionForm(),
    ), (422 if form.errors else 200)


@bp.route("/themes/<int:theme_id>", methods=["GET", "POST"])
@admin_required
def theme(theme_id: int) -> str | Response | tuple[str, int]:
    """Rename a theme or change its description."""
    record = db.get_or_404(Theme, theme_id)
    form = ThemeForm(obj=record)
    if form.validate_on_submit():
        try:
            themes.rename_theme(record.id, form.name.data, form.description.data)
            db.session.commit()
            flash(_("The theme is saved."), "success")
            return redirect(url_for("editor.admin.theme_list"))
        except themes.ThemeNameTaken:
            db.session.rollback()
            add_error(form.name, _("A theme with this name or address already exists."))
    return render_template("editor/theme.html", theme=record, form=form), (
        422 if form.errors else 200
    )


@bp.post("/themes/<int:theme_id>/move")
@admin_required
def move_theme(theme_id: int) -> Response:
    """Move a theme up or down."""
    db.get_or_404(Theme, theme_id)
    form = MoveForm()
    if not form.validate_on_submit() or form.step.data is None:
        abort(400)
    themes.move_theme(theme_id, form.step.data)
    db.session.commit()
    return redirect(url_for("editor.admin.theme_list"))


@bp.post("/themes/<int:theme_id>/active")
@admin_required
def toggle_theme(theme_id: int) -> Response:
    """Activate or deactivate a theme."""
    record = db.get_or_404(Theme, theme_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    themes.set_theme_active(record.id, not record.active)
    db.session.commit()
    if record.active:
        flash(_("%(name)s is active again.", name=record.name), "success")
    else:
        flash(_("%(name)s is deactivated.", name=record.name), "success")
    return redirect(url_for("editor.admin.theme_list"))


def _account_fields(record: Editor) -> dict[str, Any]:
    """An account's fields as the audit trail compares them (never the password)."""
    return {
        "email": record.email,
        "name": record.name,
        "role": record.role,
        "active": record.active,
    }


@bp.route("/editors", methods=["GET", "POST"])
@admin_required
def editor_list() -> str | Response | tuple[str, int]:
    """List editor accounts and create a new one."""
    form = NewEditorForm()
    if form.validate_on_submit():
        try:
            created = editors.create_editor(
                form.email.data, form.name.data, form.password.data, form.is_admin.data
            )
            audit.record(
                "editor.created",
                "editor",
                created.id,
                created.email,
                audit.changes({}, _account_fields(created)),
            )
            db.session.commit()
            flash(_("The account is created."), "success")
            return redirect(url_for("editor.admin.editor_list"))
        except editors.EditorExists:
            db.session.rollback()
            add_error(form.email, _("An account with this address already exists."))
    return render_template(
        "editor/editors.html", editors=editors.list_editors(), form=form
    ), (422 if form.errors else 200)


@bp.route("/editors/<int:editor_id>", methods=["GET", "POST"])
@admin_required
def editor_account(editor_id: int) -> str | Response | tuple[str, int]:
    """Change an editor's role or active state."""
    record = db.get_or_404(Editor, editor_id)
    form = EditorRoleForm(obj=record)
    if form.validate_on_submit():
        try:
            before = _account_fields(record)
            editors.update_editor(
                record.id, is_admin=form.is_admin.data, active=form.active.data
            )
            audit.record(
                "editor.changed",
                "editor",
                record.id,
                record.email,
                audit.changes(before, _account_fields(record)),
            )
            db.session.commit()
            flash(_("The account is saved."), "success")
            return redirect(url_for("editor.admin.editor_list"))
        except editors.LastAdmin:
            db.session.rollback()
            add_error(
                form.is_admin, _("There must be at least one active administrator.")
            )
    return render_template(
        "editor/editor.html",
        record=record,
        form=form,
        password_form=PasswordFields(prefix="pw"),
    ), (422 if form.errors else 200)


@bp.post("/editors/<int:editor_id>/password")
@admin_required
def editor_password(editor_id: int) -> str | Response | tuple[str, int]:
    """Set a new password for another editor."""
    record = db.get_or_404(Editor, editor_id)
    password_form = PasswordFields(prefix="pw")
    if password_form.validate_on_submit():
        editors.set_password(record.id, password_form.password.data)
        audit.record("editor.password_changed", "editor", record.id, record.email)
        db.session.commit()
        flash(_("The password is changed."), "success")
        return redirect(url_for("editor.admin.editor_list"))
    return render_template(
        "editor/editor.html",
        record=record,
        form=EditorRoleForm(obj=record),
        password_form=password_form,
    ), 422
