"""Item and issue history: revisions compared word by word, restoring an older
save, and corrections of a sent issue's items."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from newsletter import permissions
from newsletter.database import get_row
from newsletter.editor import item_fields
from newsletter.editor.contacts import contact_choices
from newsletter.editor.forms import (
    EXTRA_LINK_ROWS,
    ActionForm,
    CorrectionForm,
    RestoreForm,
)
from newsletter.extensions import db
from newsletter.models import Editor, Issue, IssueStatus, Item
from newsletter.models.review import Revision
from newsletter.models.types import utcnow
from newsletter.request_limits import image_too_large, takes_file
from newsletter.services import corrections, image_erasure, issues, revisions
from newsletter.services.issues import (
    NO_IMAGE,
    EditConflict,
    ItemData,
    ItemImage,
    LinkData,
)

bp = Blueprint("history", __name__)


def authors(rows: Sequence[Revision]) -> dict[int, str]:
    """The names of the editors who saved these revisions, by editor id."""
    ids = {row.created_by_id for row in rows if row.created_by_id is not None}
    if not ids:
        return {}
    found = db.session.execute(select(Editor.id, Editor.name).where(Editor.id.in_(ids)))
    return {editor_id: name for editor_id, name in found}


def _pair(rows: Sequence[Revision]) -> tuple[Revision, Revision] | None:
    """The two revisions asked for (?a=&b=), by default the last two saves."""
    by_number = {row.number: row for row in rows}
    if not rows:
        return None
    newest = rows[0].number
    a = request.args.get("a", default=max(newest - 1, 1), type=int)
    b = request.args.get("b", default=newest, type=int)
    if a not in by_number or b not in by_number:
        abort(404)
    return by_number[a], by_number[b]


def _revisions_page(
    object_type: str, issue: Issue, item: Item | None, status: int = 200
) -> tuple[str, int]:
    """Render an object's revisions with the comparison of two of them."""
    object_id = item.id if item is not None else issue.id
    rows = revisions.for_object(object_type, object_id)
    pair = _pair(rows)
    diff = (
        revisions.compare(object_type, pair[0].fields, pair[1].fields) if pair else []
    )
    return render_template(
        "editor/revisions.html",
        object_type=object_type,
        issue=issue,
        item=item,
        revisions=rows,
        authors=authors(rows),
        pair=pair,
        diff=diff,
        restore_form=RestoreForm(),
        conflict=status == 409,
    ), status


@bp.get("/items/<int:item_id>/revisions")
def item_revisions(item_id: int) -> tuple[str, int]:
    """Compare two saves of an item word by word."""
    record = db.get_or_404(Item, item_id)
    return _revisions_page(revisions.ITEM, record.issue, record)


@bp.get("/issues/<int:issue_id>/revisions")
def issue_revisions(issue_id: int) -> tuple[str, int]:
    """Compare two saves of an issue's header word by word."""
    record = db.get_or_404(Issue, issue_id)
    return _revisions_page(revisions.ISSUE, record, None)


@bp.post("/items/<int:item_id>/revisions/<int:number>/restore")
def restore(item_id: int, number: int) -> Response | tuple[str, int]:
    """Save an older revision's fields as the item's newest version."""
    record = db.get_or_404(Item, item_id)
    form = RestoreForm()
    if not form.validate_on_submit():
        abort(400)
    fields = revisions.get(revisions.ITEM, record.id, number).fields
    try:
        issues.update_item(
            record.id,
            _version(form.version.data),
            _item_data(fields),
            current_user.name,
        )
    except EditConflict:
        db.session.rollback()
        return _revisions_page(
            revisions.ITEM, record.issue, get_row(Item, item_id), 409
        )
    db.session.commit()
    flash(_("Version %(number)d is restored.", number=number), "success")
    return redirect(url_for("editor.issues.item", item_id=record.id))


def _version(value: object) -> int:
    """The version a form was opened at, or 0 for a tampered value."""
    try:
        return int(str(value))
    except ValueError:
        return 0


def _item_data(fields: dict[str, object]) -> ItemData:
    """Turn a revision's item fields into service data."""
    links = fields.get("links") or []
    assert isinstance(links, list)
    return ItemData(
        title=str(fields.get("title") or ""),
        body=str(fields.get("body") or ""),
        theme_id=int(str(fields.get("theme_id") or 0)),
        contact_name=str(fields.get("contact_name") or ""),
        contact_phone=str(fields.get("contact_phone") or ""),
        contact_email=str(fields.get("contact_email") or ""),
        links=[LinkData(str(label), str(url)) for label, url in links],
        image=_image(fields),
    )


def _image(fields: dict[str, object]) -> ItemImage:
    """A revision's image; one saved before items had images had none."""
    name = str(fields.get("image") or "")
    if not name:
        return NO_IMAGE
    width, height = fields.get("image_width"), fields.get("image_height")
    return ItemImage(
        name=name,
        alt=str(fields.get("image_alt") or ""),
        decorative=bool(fields.get("image_decorative")),
        width=width if isinstance(width, int) else None,
        height=height if isinstance(height, int) else None,
    )


def _correction_form(item: Item) -> CorrectionForm:
    """Build the correction form, filled with the item on GET."""
    if request.method == "GET":
        form = CorrectionForm(obj=item)
        form.image.data = None  # the field takes a file, not the stored name
        form.erase_target.data = item.image
        form.links.process(
            None, [SimpleNamespace(text=ln.label, url=ln.url) for ln in item.links]
        )
        form.note.data = ""
        while len(form.links) < len(item.links) + EXTRA_LINK_ROWS:
            form.links.append_entry()
    else:
        form = CorrectionForm()
    form.saved_contact.choices = [SelectChoice(0, _("None")), *contact_choices()]
    form.current_image = item.image
    return form


@bp.post("/items/<int:item_id>/images/erase")
def erase_image(item_id: int) -> Response:
    """Erase a picture the item showed before (see services.image_erasure)."""
    record = db.get_or_404(Item, item_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not may_erase_images(record):
        abort(403)
    image = request.form.get("image", "")
    if image not in image_erasure.earlier_images(record):
        flash(_("That image is not among the item's earlier images."), "error")
    else:
        erasure = image_erasure.erase(record, image)
        db.session.commit()
        item_fields.finish_erasure(erasure)
    return redirect(
        url_for("editor.issues.item", item_id=record.id, _anchor="earlier-images")
    )


def may_erase_images(item: Item) -> bool:
    """Whether the present editor may change this item's images: as a save of a
    draft, or as a correction of a sent issue."""
    if not permissions.may(current_user.role, "editor.history.erase_image", "POST"):
        return False
    if item.issue.is_editable:
        return True
    return item.issue.status == IssueStatus.SENT and corrections.may_correct(
        current_user.role
    )


@bp.route("/items/<int:item_id>/correct", methods=["GET", "POST"])
@takes_file(lambda config: config.image_max_bytes, image_too_large)
def correct(item_id: int) -> str | Response | tuple[str, int]:
    """Correct an item of a sent issue, with a public note."""
    try:
        record = corrections.sent_item(item_id)
    except corrections.NotSent:
        flash(_("Only items of a sent issue are corrected; edit this one."), "error")
        return redirect(url_for("editor.issues.item", item_id=item_id))
    if not corrections.may_correct(current_user.role):
        abort(403)
    form = _correction_form(record)
    conflict = None
    valid = form.validate_on_submit()
    image = item_fields.take_image(form, record) if request.method == "POST" else None
    erase = item_fields.image_to_erase(form, record, image)
    if valid and image is not None and not form.erase_image.errors:
        try:
            corrections.correct_item(
                record.id,
                _version(form.version.data),
                item_fields.item_data(form, image, theme_id=record.theme_id),
                form.note.data,
                utcnow(),
                role=current_user.role,
            )
            erasure = image_erasure.erase(record, erase) if erase else None
            db.session.commit()
            flash(_("The correction is published."), "success")
            item_fields.finish_erasure(erasure)
            return redirect(url_for("editor.issues.item", item_id=record.id))
        except EditConflict:
            db.session.rollback()
            conflict = get_row(Item, item_id)
            form.version.data = str(conflict.version)
            item_fields.reopened(form, conflict)
    status = 409 if conflict else (422 if form.errors else 200)
    return render_template(
        "editor/correct.html",
        issue=record.issue,
        item=record,
        form=form,
        conflict=conflict,
        thumbnail=item_fields.shown_image(form, record),
        earlier_images=item_fields.earlier_images(record),
        erase_form=ActionForm(),
        corrections=[
            c for c in corrections.for_issue(record.issue_id) if c.item_id == record.id
        ],
    ), status
