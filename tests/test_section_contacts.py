"""A section's own contact: edited on the issue page, shown at the top of the
section in the email, the archive and the feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import feedparser
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail.emails import preview_email
from newsletter.models import Issue, SectionContact
from newsletter.services import contacts, issues
from newsletter.services.contacts import ContactData
from newsletter.services.issues import ContactDetails
from tests.factories import make_issue, make_item, theme

MARIA = ContactDetails("Maria Svensson", "0480-837 78", "maria.svensson@example.se")


def issue_with_section_contact(app, publish: bool = True) -> int:
    """An issue whose Äldre section has Maria as its contact and an item with
    its own contact, and a Barn och unga section without one."""
    with app.app_context():
        issue = make_issue("Nyhetsbrev februari 2026", slug="februari")
        make_item(issue, "aldre", "Webbinarium", contact_name="Karin Ek")
        make_item(issue, "barn-och-unga", "Skolan")
        issues.set_section_contact(issue.id, theme("aldre").id, MARIA, "Test")
        if publish:
            issue.status = "sent"
            issue.published_at = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
        db.session.commit()
        return issue.id


def order(text: str, *parts: str) -> list[int]:
    """Positions of each part in the text (-1 when missing)."""
    return [text.find(part) for part in parts]


def test_the_issue_page_sets_changes_and_clears_a_section_contact(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        aldre = theme("aldre").id
    url = f"/editor/issues/{issue_id}/sections/{aldre}/contact"
    fields = {
        "contact_name": "Maria Svensson",
        "contact_phone": "0480-837 78",
        "contact_email": "maria.svensson@example.se",
    }
    assert editor.post(url, data=fields).status_code == 302
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Kontakt för temat:</span> Maria Svensson" in page
    editor.post(url, data={**fields, "contact_phone": "0480-800 00"})
    with app.app_context():
        stored = db.session.scalars(select(SectionContact)).one()
        assert stored.contact_phone == "0480-800 00"
    editor.post(
        url, data={"contact_name": "", "contact_phone": "", "contact_email": ""}
    )
    with app.app_context():
        assert db.session.scalars(select(SectionContact)).all() == []


def test_a_section_contact_can_be_picked_from_the_directory(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        aldre = theme("aldre").id
        saved = contacts.create_contact(
            ContactData(name="Maria Svensson", email="maria.svensson@example.se")
        ).id
        db.session.commit()
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert f'<option value="{saved}">Maria Svensson' in page
    editor.post(
        f"/editor/issues/{issue_id}/sections/{aldre}/contact",
        data={"saved_contact": str(saved), "contact_name": ""},
    )
    with app.app_context():
        stored = db.session.scalars(select(SectionContact)).one()
        assert stored.contact_email == "maria.svensson@example.se"


def test_a_wrong_section_contact_is_explained_in_swedish_and_not_saved(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        aldre = theme("aldre").id
    response = editor.post(
        f"/editor/issues/{issue_id}/sections/{aldre}/contact",
        data={"contact_name": "Maria", "contact_email": "inte-en-adress"},
        follow_redirects=True,
    )
    assert "Fyll i en giltig e-postadress." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(SectionContact)).all() == []


def test_a_sent_issue_refuses_a_section_contact_change(app, editor):
    issue_id = issue_with_section_contact(app)
    with app.app_context():
        aldre = theme("aldre").id
    response = editor.post(
        f"/editor/issues/{issue_id}/sections/{aldre}/contact",
        data={"contact_name": "Någon annan"},
    )
    assert response.status_code == 409
    with app.app_context():
        stored = db.session.scalars(select(SectionContact)).one()
        assert stored.contact_name == "Maria Svensson"


def test_the_email_shows_the_section_contact_above_the_sections_items(app):
    issue_id = issue_with_section_contact(app, publish=False)
    with app.app_context():
        email = preview_email(db.session.get(Issue, issue_id), "sv")
    html_order = order(
        email.html, ">Äldre</h2>", "Maria Svensson", "Webbinarium", "Karin Ek"
    )
    assert -1 not in html_order and html_order == sorted(html_order)
    assert 'href="tel:048083778"' in email.html
    assert re.search(
        r"ÄLDRE\n-+\nKontakt: Maria Svensson, 0480-837 78, "
        r"maria\.svensson@example\.se\n",
        email.text,
    ), email.text
    # Only the section that has one shows a section contact.
    assert email.text.count("Maria Svensson") == 1


def test_the_archive_shows_the_section_contact_at_the_top_of_the_section(app):
    issue_with_section_contact(app)
    page = app.test_client().get("/archive/februari").get_data(as_text=True)
    places = order(page, 'id="h-aldre"', "Maria Svensson", "Webbinarium", "Karin Ek")
    assert -1 not in places and places == sorted(places)
    assert page.count("Maria Svensson") == 1


def test_the_issue_feeds_show_the_section_contact(app):
    issue_with_section_contact(app)
    client = app.test_client()
    for url in ("/feed.xml", "/feed.atom"):
        feed = feedparser.parse(client.get(url).data)
        assert not feed.bozo, feed.bozo_exception
        content = feed.entries[0].content[0].value
        places = order(content, "Äldre</h2>", "Maria Svensson", "Webbinarium")
        assert -1 not in places and places == sorted(places), url


def test_a_copied_issue_keeps_the_section_contacts(app):
    issue_id = issue_with_section_contact(app)
    with app.app_context():
        copy = issues.duplicate_issue(issue_id, "Nyhetsbrev mars 2026", "Test")
        db.session.commit()
        assert [(c.theme_id, c.contact_name) for c in copy.section_contacts] == [
            (theme("aldre").id, "Maria Svensson")
        ]


def test_theme_feed_entries_and_the_theme_page_name_the_section_contact(app):
    issue_with_section_contact(app)
    client = app.test_client()
    feed = feedparser.parse(client.get("/themes/aldre/feed.xml").data)
    assert not feed.bozo, feed.bozo_exception
    content = feed.entries[0].content[0].value
    assert "Kontakt för temat: Maria Svensson" in content
    page = client.get("/themes/aldre").get_data(as_text=True)
    assert "Kontakt för temat:</span> Maria Svensson" in page
    other = client.get("/themes/barn-och-unga/feed.xml").get_data(as_text=True)
    assert "Maria Svensson" not in other
