"""The contacts directory: save, find, change, remove and merge contact persons.

Items copy a contact's details when they are written, so nothing here ever
changes an item or a published issue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from sqlalchemy import func, or_, select

from newsletter.database import get_row
from newsletter.errors import Conflict
from newsletter.extensions import db
from newsletter.models import Contact
from newsletter.services import audit

PAGE_SIZE = 200


class ContactEmailTaken(Conflict):
    """Another contact already has this email address."""


class SameContact(Conflict):
    """A contact cannot be merged into itself."""


@dataclass(frozen=True)
class ContactData:
    """The editable fields of a contact."""

    name: str
    title: str = ""
    organisation: str = ""
    phone: str = ""
    email: str = ""


def _normalised(data: ContactData) -> ContactData:
    """Return the data with the address lower-cased, as it is compared."""
    return ContactData(
        data.name, data.title, data.organisation, data.phone, data.email.lower()
    )


def search(query: str = "") -> Sequence[Contact]:
    """Return contacts whose name, organisation or address contains the query."""
    statement = select(Contact).order_by(func.lower(Contact.name), Contact.id)
    words = query.lower().split()
    for word in words:
        pattern = f"%{word}%"
        statement = statement.where(
            or_(
                func.lower(Contact.name).like(pattern),
                func.lower(Contact.organisation).like(pattern),
                func.lower(Contact.email).like(pattern),
            )
        )
    return db.session.scalars(statement.limit(PAGE_SIZE)).all()


def find(name: str, phone: str, email: str) -> Contact | None:
    """Return the saved contact with this address, or with this name and phone."""
    if email:
        query = select(Contact).where(Contact.email == email.lower())
    else:
        query = select(Contact).where(
            func.lower(Contact.name) == name.lower(), Contact.phone == phone
        )
    return db.session.scalars(query.limit(1)).first()


def _details(contact: Contact) -> dict[str, str]:
    """The fields of a contact, as the audit trail compares them."""
    return {f.name: getattr(contact, f.name) for f in fields(ContactData)}


def _check_email(email: str, exclude_id: int | None) -> None:
    """Refuse an address another contact already has."""
    if not email:
        return
    query = select(Contact.id).where(Contact.email == email)
    if exclude_id is not None:
        query = query.where(Contact.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise ContactEmailTaken(email)


def create_contact(data: ContactData) -> Contact:
    """Save a new contact."""
    data = _normalised(data)
    _check_email(data.email, None)
    contact = Contact(**{f.name: getattr(data, f.name) for f in fields(data)})
    db.session.add(contact)
    db.session.flush()
    audit.record(
        "contact.created",
        "contact",
        contact.id,
        contact.name,
        audit.changes({}, _details(contact)),
    )
    return contact


def update_contact(contact_id: int, data: ContactData) -> Contact:
    """Change a contact; items that copied it keep what they copied."""
    contact = get_row(Contact, contact_id)
    data = _normalised(data)
    _check_email(data.email, contact.id)
    before = _details(contact)
    for f in fields(data):
        setattr(contact, f.name, getattr(data, f.name))
    db.session.flush()
    audit.record(
        "contact.changed",
        "contact",
        contact.id,
        contact.name,
        audit.changes(before, _details(contact)),
    )
    return contact


def delete_contact(contact_id: int) -> None:
    """Remove a contact from the directory."""
    contact = get_row(Contact, contact_id)
    audit.record(
        "contact.deleted",
        "contact",
        contact.id,
        contact.name,
        audit.changes(_details(contact), {}),
    )
    db.session.delete(contact)
    db.session.flush()


def merge_contacts(keep_id: int, drop_id: int) -> Contact:
    """Merge a duplicate into the contact kept: its empty fields take the
    duplicate's details, then the duplicate is removed."""
    if keep_id == drop_id:
        raise SameContact(str(keep_id))
    keep = get_row(Contact, keep_id)
    drop = get_row(Contact, drop_id)
    details = _details(drop)
    before = _details(keep)
    db.session.delete(drop)
    db.session.flush()  # the duplicate's address is free before the kept one takes it
    for name, value in details.items():
        if not getattr(keep, name):
            setattr(keep, name, value)
    db.session.flush()
    audit.record(
        "contact.merged",
        "contact",
        keep.id,
        keep.name,
        {"merged": [drop_id, None], **audit.changes(before, _details(keep))},
    )
    return keep
