"""The contacts directory and the item form that offers it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from newsletter.extensions import db
from newsletter.models import AuditEvent, Contact, Item
from newsletter.services import contacts
from newsletter.services.contacts import ContactData
from tests.factories import make_editor, make_issue, make_item, theme
from tests.test_issues import item_form

MARIA = ContactData(
    name="Maria Svensson",
    title="Utvecklingsledare",
    organisation="Region Kalmar län",
    phone="0480-837 78",
    email="maria.svensson@example.se",
)


def saved(data: ContactData = MARIA) -> int:
    """Save a contact and return its id."""
    contact_id = contacts.create_contact(data).id
    db.session.commit()
    return contact_id


def contact_form(**fields: str) -> dict[str, str]:
    """Contact form data: Maria's details, changed by the given fields."""
    data = {
        "name": MARIA.name,
        "title": MARIA.title,
        "organisation": MARIA.organisation,
        "phone": MARIA.phone,
        "email": MARIA.email,
    }
    data.update(fields)
    return data


def listed(response) -> str:
    """The table of contacts found (the merge form below offers them all)."""
    page = response.get_data(as_text=True)
    return page[page.find("<table") : page.find("</table>")]


def names() -> list[str]:
    return list(db.session.scalars(select(Contact.name).order_by(Contact.id)))


def test_the_directory_is_behind_login(client):
    response = client.get("/editor/contacts")
    assert response.status_code == 302
    assert "/editor/login" in response.headers["Location"]


def test_the_editor_nav_links_to_the_contacts(editor):
    page = editor.get("/editor/").get_data(as_text=True)
    assert 'href="/editor/contacts">Kontakter</a>' in page


def test_adding_a_contact_and_finding_it_by_name_organisation_or_address(app, editor):
    response = editor.post("/editor/contacts/new", data=contact_form())
    assert response.status_code == 302
    with app.app_context():
        saved(ContactData(name="Karin Ek", organisation="Kalmar kommun"))
    for query in ("svensson", "REGION kalmar", "maria.svensson@"):
        text = listed(editor.get("/editor/contacts", query_string={"q": query}))
        assert "Maria Svensson" in text and "Karin Ek" not in text, query
    both = editor.get("/editor/contacts", query_string={"q": "kalmar"})
    assert "Karin Ek" in listed(both) and "Maria Svensson" in listed(both)


def test_a_second_contact_with_the_same_address_is_refused_in_swedish(app, editor):
    with app.app_context():
        saved()
    response = editor.post(
        "/editor/contacts/new",
        data=contact_form(name="M. Svensson", email="Maria.Svensson@example.se"),
    )
    assert response.status_code == 422
    assert "En annan kontakt har redan den här adressen." in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert names() == ["Maria Svensson"]


def test_the_database_refuses_two_contacts_with_one_address(app):
    with app.app_context():
        db.session.add(Contact(name="A", email="a@example.se"))
        db.session.add(Contact(name="B", email="a@example.se"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        # Contacts without an address may be many.
        db.session.add_all([Contact(name="C"), Contact(name="D")])
        db.session.flush()


def test_a_contact_without_a_name_is_refused_in_swedish(editor):
    response = editor.post("/editor/contacts/new", data=contact_form(name=""))
    assert response.status_code == 422
    assert "Ge kontakten ett namn." in response.get_data(as_text=True)


def test_editing_and_deleting_a_contact(app, editor):
    with app.app_context():
        contact_id = saved()
    response = editor.post(
        f"/editor/contacts/{contact_id}", data=contact_form(phone="0480-800 00")
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Contact, contact_id).phone == "0480-800 00"
    assert editor.post(f"/editor/contacts/{contact_id}/delete").status_code == 302
    with app.app_context():
        assert names() == []


def test_forms_without_the_csrf_token_change_nothing(app, editor):
    with app.app_context():
        contact_id = saved()
    # The editor client adds the token; the raw client under the same login does not.
    raw = editor.client
    assert raw.post(f"/editor/contacts/{contact_id}/delete").status_code == 400
    assert raw.post("/editor/contacts/new", data=contact_form()).status_code == 400
    with app.app_context():
        assert names() == ["Maria Svensson"]


def test_merging_two_duplicates_keeps_one_with_the_details_of_both(app, editor):
    with app.app_context():
        keep = saved(ContactData(name="Maria Svensson", phone="0480-837 78"))
        drop = saved(
            ContactData(
                name="Maria S.",
                organisation="Region Kalmar län",
                email="maria.svensson@example.se",
            )
        )
    response = editor.post(
        "/editor/contacts/merge", data={"keep": str(keep), "drop": str(drop)}
    )
    assert response.status_code == 302
    with app.app_context():
        merged = db.session.scalars(select(Contact)).one()
        assert (merged.id, merged.name, merged.phone, merged.email) == (
            keep,
            "Maria Svensson",
            "0480-837 78",
            "maria.svensson@example.se",
        )
        assert merged.organisation == "Region Kalmar län"


def test_a_contact_cannot_be_merged_into_itself(app, editor):
    with app.app_context():
        only = saved()
        saved(ContactData(name="Karin Ek"))
    response = editor.post(
        "/editor/contacts/merge", data={"keep": str(only), "drop": str(only)}
    )
    assert response.status_code == 422
    assert "Välj två olika kontakter." in response.get_data(as_text=True)
    with app.app_context():
        assert len(names()) == 2


def test_the_item_form_fills_a_saved_contact_without_javascript(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
        contact_id = saved()
    page = editor.get(f"/editor/issues/{issue_id}/items/new").get_data(as_text=True)
    assert f'<option value="{contact_id}">Maria Svensson' in page
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(
            section, saved_contact=str(contact_id), use_contact="1", body="Text"
        ),
    )
    assert response.status_code == 200
    filled = response.get_data(as_text=True)
    assert 'value="maria.svensson@example.se"' in filled
    assert 'value="0480-837 78"' in filled
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Item)) == 0


def test_a_contact_typed_in_an_item_is_saved_in_the_directory_when_asked(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
    fields = {"contact_name": "Karin Ek", "contact_email": "karin.ek@example.se"}
    editor.post(
        f"/editor/issues/{issue_id}/items/new", data=item_form(section, **fields)
    )
    with app.app_context():
        assert names() == []
    for _ in range(2):  # a second item with the same contact adds no duplicate
        editor.post(
            f"/editor/issues/{issue_id}/items/new",
            data=item_form(section, save_contact="y", **fields),
        )
    with app.app_context():
        assert names() == ["Karin Ek"]
        assert db.session.scalar(select(func.count()).select_from(Item)) == 3


def test_changing_the_directory_never_changes_a_written_item_or_the_archive(
    app, editor
):
    with app.app_context():
        contact_id = saved()
        issue = make_issue("Nyhetsbrev februari 2026", slug="februari")
        make_item(
            issue,
            "aldre",
            "Webbinarium",
            contact_name=MARIA.name,
            contact_phone=MARIA.phone,
            contact_email=MARIA.email,
        )
        issue.status = "sent"
        issue.published_at = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
        db.session.commit()
    editor.post(
        f"/editor/contacts/{contact_id}",
        data=contact_form(name="Maria Berg", email="maria.berg@example.se"),
    )
    page = editor.get("/archive/februari").get_data(as_text=True)
    assert "Maria Svensson" in page and "maria.svensson@example.se" in page
    assert "Maria Berg" not in page
    editor.post(f"/editor/contacts/{contact_id}/delete")
    with app.app_context():
        item = db.session.scalars(select(Item)).one()
        assert (item.contact_name, item.contact_email) == (MARIA.name, MARIA.email)


@pytest.mark.browser
def test_picking_a_saved_contact_fills_the_item_at_once_with_javascript(
    sqlite_app, live_url, page
):
    expect = pytest.importorskip("playwright.sync_api").expect
    with sqlite_app.app_context():
        make_editor(email="eva@example.se", name="Eva Editor")
        issue_id = make_issue().id
        saved()
    page.goto(f"{live_url}/editor/login")
    page.get_by_label("E-postadress").fill("eva@example.se")
    page.get_by_label("Lösenord").fill("correct horse battery")
    page.get_by_role("button", name="Logga in").click()
    page.goto(f"{live_url}/editor/issues/{issue_id}/items/new")
    expect(page.get_by_role("button", name="Använd den här kontakten")).to_be_hidden()
    page.get_by_label("Sparad kontakt").select_option(
        label="Maria Svensson, Region Kalmar län, maria.svensson@example.se"
    )
    expect(page.get_by_label("Kontaktperson", exact=True)).to_have_value(
        "Maria Svensson"
    )
    expect(page.get_by_label("Telefon")).to_have_value("0480-837 78")


def test_every_change_to_the_directory_leaves_an_audit_entry_by_the_editor(app, editor):
    response = editor.post("/editor/contacts/new", data=contact_form())
    assert response.status_code == 302
    with app.app_context():
        contact_id = db.session.scalar(select(Contact.id))
        other = saved(ContactData(name="Maria S.", phone="0480-837 78"))
    editor.post(f"/editor/contacts/{contact_id}", data=contact_form(phone="0480-1"))
    editor.post(
        "/editor/contacts/merge", data={"keep": str(contact_id), "drop": str(other)}
    )
    editor.post(f"/editor/contacts/{contact_id}/delete")
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.actor_kind == "editor", AuditEvent.object_type == "contact"
            )
            .order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.object_id) for e in events] == [
            ("contact.created", contact_id),
            ("contact.changed", contact_id),
            ("contact.merged", contact_id),
            ("contact.deleted", contact_id),
        ]
        assert {e.actor for e in events} == {"editor@example.se"}
        assert events[1].changes == {"phone": ["0480-837 78", "0480-1"]}
        assert events[3].changes["name"] == ["Maria Svensson", None]
