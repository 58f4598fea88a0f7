"""The contacts directory: people typed once, offered to every item."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from newsletter.database import get_row
from newsletter.editor.forms import ActionForm, ContactForm, MergeContactsForm
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.models import Contact
from newsletter.services import contacts
from newsletter.services.contacts import ContactData, ContactEmailTaken

bp = Blueprint("contacts", __name__)


def contact_data(form: ContactForm) -> ContactData:
    """Read the contact fields of a form."""
    return ContactData(
        name=form.name.data,
        title=form.title.data,
        organisation=form.organisation.data,
        phone=form.phone.data,
        email=form.email.data,
    )


def contact_choices() -> list[SelectChoice]:
    """Every saved contact as a choice, named so that two namesakes differ."""
    return [
        SelectChoice(c.id, ", ".join(filter(None, [c.name, c.organisation, c.email])))
        for c in contacts.search()
    ]


def _merge_form() -> MergeContactsForm:
    """Build the merge form with every contact as a choice on both sides."""
    form = MergeContactsForm()
    form.keep.choices = form.drop.choices = contact_choices()
    return form


@bp.get("/contacts")
def contact_list() -> str:
    """List and search the directory; offer to merge two entries."""
    query = request.args.get("q", "").strip()
    return render_template(
        "editor/contacts.html",
        contacts=contacts.search(query),
        query=query,
        merge_form=_merge_form(),
    )


@bp.route("/contacts/new", methods=["GET", "POST"])
def new_contact() -> str | Response | tuple[str, int]:
    """Add a contact to the directory."""
    return _contact_page(ContactForm(), None)


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
def contact(contact_id: int) -> str | Response | tuple[str, int]:
    """Change a contact; items written with it keep their own copy."""
    record = get_row(Contact, contact_id)
    return _contact_page(ContactForm(obj=record), record)


def _contact_page(
    form: ContactForm, record: Contact | None
) -> str | Response | tuple[str, int]:
    """Save a new or changed contact from a valid form, else show the form."""
    if form.validate_on_submit():
        try:
            if record is None:
                contacts.create_contact(contact_data(form))
            else:
                contacts.update_contact(record.id, contact_data(form))
            db.session.commit()
            flash(_("The contact is saved."), "success")
            return redirect(url_for("editor.contacts.contact_list"))
        except ContactEmailTaken:
            db.session.rollback()
            add_error(form.email, _("Another contact already has this address."))
    return render_template("editor/contact.html", contact=record, form=form), (
        422 if form.errors else 200
    )


@bp.post("/contacts/<int:contact_id>/delete")
def delete_contact(contact_id: int) -> Response:
    """Remove a contact from the directory (items keep their copies)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    contacts.delete_contact(contact_id)
    db.session.commit()
    flash(_("The contact is deleted."), "success")
    return redirect(url_for("editor.contacts.contact_list"))


@bp.post("/contacts/merge")
def merge() -> str | Response | tuple[str, int]:
    """Merge a duplicate into the contact kept."""
    form = _merge_form()
    if form.validate_on_submit():
        contacts.merge_contacts(form.keep.data, form.drop.data)
        db.session.commit()
        flash(_("The contacts are merged."), "success")
        return redirect(url_for("editor.contacts.contact_list"))
    return render_template(
        "editor/contacts.html",
        contacts=contacts.search(),
        query="",
        merge_form=form,
    ), 422
