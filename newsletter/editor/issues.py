"""Composing issues: the list, the issue page, items, ordering, preview."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from babel.dates import get_month_names
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from newsletter.database import get_row
from newsletter.editor import history, item_fields
from newsletter.editor.contacts import contact_choices
from newsletter.editor.forms import (
    EXTRA_LINK_ROWS,
    ActionForm,
    DuplicateForm,
    IssueForm,
    ItemForm,
    MoveForm,
    RestoreForm,
    SectionContactForm,
    YearPlanForm,
)
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.models import Contact, Issue, Item, Proposal
from newsletter.models.types import utcnow
from newsletter.request_limits import image_too_large, takes_file
from newsletter.services import (
    contacts,
    corrections,
    image_erasure,
    issues,
    links,
    plan,
    revisions,
    themes,
)
from newsletter.services.contacts import ContactData
from newsletter.services.issues import (
    ContactDetails,
    EditConflict,
)

bp = Blueprint("issues", __name__)


@bp.get("/")
def index() -> str:
    """List every issue, those still to go out first, and the plan of one year
    (?year=, default this year)."""
    year = request.args.get("year", type=int) or _this_year()
    if not 2000 <= year <= 2999:
        abort(404)
    return _issues_page(_plan_form(YearPlanForm(prefix="plan", year=year)), year)[0]


def _this_year() -> int:
    """The current year in Stockholm."""
    return plan.local_day(utcnow()).year


def _plan_form(form: YearPlanForm) -> YearPlanForm:
    """Give the plan form its months, named in the editor's language."""
    names = get_month_names("wide", locale=get_locale())
    form.months.choices = [
        SelectChoice(month, str(names[month]).capitalize()) for month in range(1, 13)
    ]
    return form


def _issues_page(form: YearPlanForm, year: int) -> tuple[str, int]:
    """Render the issues and the year's plan with its creation form."""
    return render_template(
        "editor/issues.html",
        issues=plan.in_working_order(issues.list_issues()),
        year=year,
        this_year=_this_year(),
        planned=plan.year_plan(year, utcnow()),
        plan_form=form,
    ), (422 if form.errors else 200)


@bp.post("/issues/plan")
def create_plan() -> str | Response | tuple[str, int]:
    """Create a draft issue for each chosen month of a year that has none."""
    form = _plan_form(YearPlanForm(prefix="plan"))
    year = form.year.data
    if not form.validate_on_submit() or year is None:
        shown = year if year is not None and 2000 <= year <= 2999 else _this_year()
        return _issues_page(form, shown)
    result = plan.create_year_plan(
        year,
        form.months.data or [],
        form.pattern.data,
        form.publish_day.data or plan.DEFAULT_PUBLISH_DAY,
        form.deadline_days.data or 0,
        current_user.name,
    )
    db.session.commit()
    count = len(result.created)
    flash(
        ngettext("%(num)d issue is created.", "%(num)d issues are created.", count),
        "success",
    )
    for first_day in result.skipped:
        flash(_("%(month)s already existed.", month=_month_year(first_day)), "info")
    return redirect(url_for("editor.issues.index", year=year, _anchor="plan"))


def _month_year(first_day: date) -> str:
    """Name a month and its year: "Juni 2027"."""
    return format_date(first_day, "LLLL y").capitalize()


@bp.route("/issues/new", methods=["GET", "POST"])
def new_issue() -> str | Response | tuple[str, int]:
    """Create a draft issue."""
    form = IssueForm()
    if form.validate_on_submit():
        try:
            issue = issues.create_issue(**_header(form))
            _save_plan(issue, form)
            db.session.commit()
            flash(_("The issue is created."), "success")
            return redirect(url_for("editor.issues.edit", issue_id=issue.id))
        except issues.SlugTaken:
            db.session.rollback()
            add_error(form.slug, _("Another issue already uses this address."))
    return render_template("editor/issue_new.html", form=form), (
        422 if form.errors else 200
    )


def _save_plan(issue: Issue, form: IssueForm) -> None:
    """Save the publication date and deadline of the header form (after the rest of
    the header, whose save checks the version the editor opened)."""
    plan.set_plan(issue, form.publish_on.data, form.contribution_deadline.data)


def _header(form: IssueForm) -> dict[str, str]:
    """Return the header fields of a submitted issue form, and who saves them."""
    return {
        "title": form.title.data,
        "intro": form.intro.data,
        "preheader": form.preheader.data,
        "slug": form.slug.data,
        "editor": current_user.name,
    }


@bp.route("/issues/<int:issue_id>", methods=["GET", "POST"])
def edit(issue_id: int) -> str | Response | tuple[str, int]:
    """Show an issue's sections and items and save its header."""
    record = db.get_or_404(Issue, issue_id)
    form = IssueForm(obj=record if request.method == "GET" else None)
    conflict = None
    if form.validate_on_submit():
        try:
            issues.update_issue(record.id, _version(form), **_header(form))
            _save_plan(record, form)
            db.session.commit()
            flash(_("The issue is saved."), "success")
            return redirect(url_for("editor.issues.edit", issue_id=record.id))
        except EditConflict:
            db.session.rollback()
            conflict = get_row(Issue, issue_id)
            form.version.data = str(conflict.version)
        except issues.SlugTaken:
            db.session.rollback()
            add_error(form.slug, _("Another issue already uses this address."))
    return _issue_page(record, form, conflict)


def _issue_page(
    record: Issue, form: IssueForm, conflict: Issue | None
) -> tuple[str, int]:
    """Render the issue page: header form, sections and any conflict."""
    status = 409 if conflict else (422 if form.errors else 200)
    return render_template(
        "editor/issue.html",
        issue=record,
        form=form,
        conflict=conflict,
        sections=issues.editor_sections(record),
        link_states=links.issue_link_states(record.id),
        action=ActionForm(),
        saved_contact_choices=contact_choices(),
        duplicate_form=DuplicateForm(
            prefix="copy", title=_("Copy of %(title)s", title=record.title)
        ),
        **_history(revisions.ISSUE, record.id),
    ), status


def _history(object_type: str, object_id: int) -> dict[str, Any]:
    """The saved versions of an item or issue header, for the list on its page."""
    rows = revisions.for_object(object_type, object_id)
    return {"revisions": rows, "revision_authors": history.authors(rows)}


@bp.post("/issues/<int:issue_id>/sections/<int:theme_id>/contact")
def section_contact(issue_id: int, theme_id: int) -> Response:
    """Set or clear the contact shown at the top of one section of an issue."""
    record = issues.editable_issue(issue_id)
    form = SectionContactForm()
    form.saved_contact.choices = [SelectChoice(0, _("None")), *contact_choices()]
    anchor = url_for("editor.issues.edit", issue_id=record.id, _anchor="sections")
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(anchor)
    saved = db.session.get(Contact, form.saved_contact.data or 0)
    details = (
        ContactDetails(saved.name, saved.phone, saved.email)
        if saved is not None
        else ContactDetails(
            form.contact_name.data, form.contact_phone.data, form.contact_email.data
        )
    )
    issues.set_section_contact(record.id, theme_id, details, current_user.name)
    db.session.commit()
    flash(_("The section contact is saved."), "success")
    return redirect(anchor)


def _version(form: IssueForm | ItemForm) -> int:
    """Return the version the form was opened at, or 0 for a tampered value."""
    try:
        return int(form.version.data)
    except (TypeError, ValueError):
        return 0


def _item_form(item: Item | None, theme_id: int | None) -> ItemForm:
    """Build an item form with its theme choices and spare link rows."""
    if request.method == "GET" and item is not None:
        form = ItemForm(obj=item)
        form.image.data = None  # the field takes a file, not the stored name
        form.erase_target.data = item.image
        # The form's link rows call the label "text"; FormField reads attributes.
        form.links.process(
            None, [SimpleNamespace(text=ln.label, url=ln.url) for ln in item.links]
        )
    else:
        form = ItemForm()
    choices = [SelectChoice(t.id, t.name) for t in themes.list_themes(active_only=True)]
    if item is not None and item.theme_id not in {c.value for c in choices}:
        choices.append(SelectChoice(item.theme_id, item.theme.name))
    form.theme_id.choices = choices
    form.saved_contact.choices = [SelectChoice(0, _("None")), *contact_choices()]
    form.current_image = item.image if item is not None else ""
    if request.method == "GET":
        if theme_id is not None:
            form.theme_id.data = theme_id
        while len(form.links) < len(item.links if item else []) + EXTRA_LINK_ROWS:
            form.links.append_entry()
    return form


def _use_saved_contact(form: ItemForm) -> bool:
    """Fill the item's contact fields from the directory when "Use this contact"
    was pressed (the no-JavaScript way); return whether it was."""
    if request.method != "POST" or "use_contact" not in request.form:
        return False
    contact = db.session.get(Contact, form.saved_contact.data or 0)
    if contact is not None:
        form.contact_name.data = contact.name
        form.contact_phone.data = contact.phone
        form.contact_email.data = contact.email
    return True


def _save_typed_contact(form: ItemForm) -> None:
    """Add the item's contact to the directory when asked and not there yet."""
    name, phone, email = (
        form.contact_name.data,
        form.contact_phone.data,
        form.contact_email.data,
    )
    if not form.save_contact.data or not name or contacts.find(name, phone, email):
        return
    contacts.create_contact(ContactData(name=name, phone=phone, email=email))
    flash(_("%(name)s is saved in the contact directory.", name=name), "success")


def _contact_details() -> dict[int, dict[str, str]]:
    """The saved contacts' details, for the script that fills the fields at once."""
    return {
        c.id: {"name": c.name, "phone": c.phone, "email": c.email}
        for c in contacts.search()
    }


@bp.route("/issues/<int:issue_id>/items/new", methods=["GET", "POST"])
@takes_file(lambda config: config.image_max_bytes, image_too_large)
def new_item(issue_id: int) -> str | Response | tuple[str, int]:
    """Add an item to a section of an issue."""
    record = issues.editable_issue(issue_id)
    form = _item_form(None, request.args.get("theme", type=int))
    valid = not _use_saved_contact(form) and form.validate_on_submit()
    image = item_fields.take_image(form, None) if request.method == "POST" else None
    if valid and image is not None:
        item = issues.add_item(
            record.id, item_fields.item_data(form, image), current_user.name
        )
        _save_typed_contact(form)
        db.session.commit()
        flash(_("The item is added."), "success")
        return redirect(_item_anchor(item))
    status = 422 if form.errors else 200
    return render_template(
        "editor/item.html",
        issue=record,
        item=None,
        form=form,
        conflict=None,
        saved_contacts=_contact_details(),
        thumbnail=item_fields.shown_image(form, None),
    ), status


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@takes_file(lambda config: config.image_max_bytes, image_too_large)
def item(item_id: int) -> str | Response | tuple[str, int]:
    """Edit an item; a stale version shows the other editor's save beside ours."""
    record = db.get_or_404(Item, item_id)
    form = _item_form(record, None)
    conflict = None
    valid = not _use_saved_contact(form) and form.validate_on_submit()
    image = item_fields.take_image(form, record) if request.method == "POST" else None
    erase = item_fields.image_to_erase(form, record, image)
    if valid and image is not None and not form.erase_image.errors:
        try:
            issues.update_item(
                record.id,
                _version(form),
                item_fields.item_data(form, image),
                current_user.name,
            )
            erasure = image_erasure.erase(record, erase) if erase else None
            _save_typed_contact(form)
            db.session.commit()
            flash(_("The item is saved."), "success")
            item_fields.finish_erasure(erasure)
            return redirect(_item_anchor(record))
        except EditConflict:
            db.session.rollback()
            conflict = get_row(Item, item_id)
            form.version.data = str(conflict.version)
            item_fields.reopened(form, conflict)
    status = 409 if conflict else (422 if form.errors else 200)
    versions = _history(revisions.ITEM, record.id)
    return render_template(
        "editor/item.html",
        issue=record.issue,
        item=record,
        form=form,
        conflict=conflict,
        saved_contacts=_contact_details(),
        proposal=db.session.get(Proposal, record.proposal_id or 0),
        thumbnail=item_fields.shown_image(form, record),
        earlier_images=item_fields.earlier_images(record, versions["revisions"])
        if history.may_erase_images(record)
        else [],
        erase_form=ActionForm(),
        **versions,
        restore_form=RestoreForm(),
        may_correct=corrections.may_correct(current_user.role),
    ), status


def _item_anchor(item: Item) -> str:
    """Return the issue page URL scrolled to one item."""
    return url_for(
        "editor.issues.edit", issue_id=item.issue_id, _anchor=f"item-{item.id}"
    )


@bp.post("/items/<int:item_id>/delete")
def delete_item(item_id: int) -> Response:
    """Delete an item."""
    if not ActionForm().validate_on_submit():
        abort(400)
    record = issues.delete_item(item_id, current_user.name)
    db.session.commit()
    flash(_("The item is deleted."), "success")
    return redirect(url_for("editor.issues.edit", issue_id=record.id))


@bp.post("/items/<int:item_id>/move")
def move_item(item_id: int) -> Response:
    """Move an item up or down within its section."""
    form = MoveForm()
    if not form.validate_on_submit() or form.step.data is None:
        abort(400)
    record = issues.move_item(item_id, form.step.data, current_user.name)
    db.session.commit()
    return redirect(_item_anchor(record))


@bp.post("/issues/<int:issue_id>/duplicate")
def duplicate_issue(issue_id: int) -> Response:
    """Copy an issue and its items into a new draft."""
    db.get_or_404(Issue, issue_id)
    form = DuplicateForm(prefix="copy")
    if not form.validate_on_submit():
        flash(_("Give the new issue a title."), "error")
        return redirect(url_for("editor.issues.edit", issue_id=issue_id))
    copy = issues.duplicate_issue(issue_id, form.title.data, current_user.name)
    db.session.commit()
    flash(_("The copy is created as a draft."), "success")
    return redirect(url_for("editor.issues.edit", issue_id=copy.id))


@bp.post("/issues/<int:issue_id>/delete")
def delete_issue(issue_id: int) -> Response:
    """Delete a draft issue."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        issues.delete_draft(issue_id)
    except issues.NotADraft:
        db.session.rollback()
        flash(_("Only drafts can be deleted."), "error")
        return redirect(url_for("editor.issues.edit", issue_id=issue_id))
    db.session.commit()
    flash(_("The draft is deleted."), "success")
    return redirect(url_for("editor.issues.index"))


@bp.get("/issues/<int:issue_id>/preview")
def preview(issue_id: int) -> str:
    """Show the issue as readers will see it on the web."""
    record = db.get_or_404(Issue, issue_id)
    return render_template(
        "public/issue.html",
        issue=record,
        sections=issues.sections(record),
        preview=True,
    )
