"""Admin pages: themes and editor accounts (the permissions table admits
administrators only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
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
from newsletter.models import Editor, Role, Theme
from newsletter.services import audit, editors, themes

bp = Blueprint("admin", __name__)


@bp.route("/themes", methods=["GET", "POST"])
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


@bp.route("/editors", methods=["GET", "POST"])
def editor_list() -> str | Response | tuple[str, int]:
    """List editor accounts and create a new one."""
    form = NewEditorForm()
    if form.validate_on_submit():
        try:
            editors.create_editor(
                form.email.data,
                form.name.data,
                form.password.data,
                role=Role(form.role.data),
            )
            db.session.commit()  # the service recorded the new account
            flash(_("The account is created."), "success")
            return redirect(url_for("editor.admin.editor_list"))
        except editors.EditorExists:
            db.session.rollback()
            add_error(form.email, _("An account with this address already exists."))
    return render_template(
        "editor/editors.html", editors=editors.list_editors(), form=form
    ), (422 if form.errors else 200)


@bp.route("/editors/<int:editor_id>", methods=["GET", "POST"])
def editor_account(editor_id: int) -> str | Response | tuple[str, int]:
    """Change an editor's role or active state."""
    record = db.get_or_404(Editor, editor_id)
    form = EditorRoleForm(obj=record)
    if form.validate_on_submit():
        try:
            editors.update_editor(
                record.id, role=Role(form.role.data), active=form.active.data
            )
            db.session.commit()  # the service recorded the change
            flash(_("The account is saved."), "success")
            return redirect(url_for("editor.admin.editor_list"))
        except editors.LastAdmin:
            db.session.rollback()
            add_error(form.role, _("There must be at least one active administrator."))
    return render_template(
        "editor/editor.html",
        record=record,
        form=form,
        password_form=PasswordFields(prefix="pw"),
    ), (422 if form.errors else 200)


@bp.post("/editors/<int:editor_id>/password")
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
