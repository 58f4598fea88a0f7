"""A sent issue's item is corrected with a public note: the archive and the feeds
show the corrected text and the note, nothing is sent again."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import AuditEvent, Delivery, Editor, Item, OutboundMessage
from newsletter.models.review import Correction, Setting
from newsletter.models.states import Role
from newsletter.services import revisions
from tests.conftest import log_in
from tests.factories import make_editor, make_issue, make_item
from tests.test_archive import BASE
from tests.test_feed_validity import assert_valid

SENT_AT = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


def sent_issue() -> int:
    """A sent issue with one item in Äldre; returns the item's id."""
    issue = make_issue("Nyhetsbrev januari")
    item = make_item(
        issue,
        "aldre",
        "Webbinarium om hemtjänst",
        body="Webbinariet hålls i Umeå.",
        links=[("Anmälan", "https://example.se/anmalan")],
    )
    issue.status = "sent"
    issue.published_at = issue.updated_at = SENT_AT
    db.session.commit()
    return item.id


def log_in_as(app, role: Role, email: str = "publicist@example.se"):
    with app.app_context():
        account = make_editor(email=email, name="Per Publicist")
        db.session.get(Editor, account.id).role = role
        db.session.commit()
    return log_in(app.test_client(), email)


def correction(title: str, body: str, note: str, version: str = "1") -> dict:
    return {
        "title": title,
        "body": body,
        "note": note,
        "contact_name": "",
        "contact_phone": "",
        "contact_email": "",
        "links-0-text": "Anmälan",
        "links-0-url": "https://example.se/anmalan",
        "version": version,
    }


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_publisher_corrects_a_sent_item_shown_in_archive_and_feeds(make_app):
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        item_id = sent_issue()
    client = app.test_client()
    atom_before = feedparser.parse(client.get("/feed.atom").data).entries[0]
    publisher = log_in_as(app, Role.PUBLISHER)
    page = publisher.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert "Rätta artikeln" in page
    response = publisher.post(
        f"/editor/items/{item_id}/correct",
        data=correction(
            "Webbinarium om hemtjänst",
            "Webbinariet hålls i Luleå.",
            "Orten var fel & nu rättad.",
        ),
    )
    assert response.status_code == 302
    archive = client.get("/archive/nyhetsbrev-januari").get_data(as_text=True)
    assert "Luleå" in archive and "Umeå" not in archive
    assert archive.count("Rättad") == 2  # at the top and at the item
    assert "Orten var fel &amp; nu rättad." in archive
    assert "E-postversionen är som den skickades, före rättelser." in archive
    atom = feedparser.parse(client.get("/feed.atom").data).entries[0]
    assert atom.id == atom_before.id
    assert atom.updated_parsed > atom_before.updated_parsed
    assert "Luleå" in atom.content[0].value and "Orten var fel" in atom.summary
    rss = feedparser.parse(client.get("/feed.xml").data).entries[0]
    assert rss.id == f"{BASE}/archive/nyhetsbrev-januari"
    assert "Luleå" in rss.content[0].value and "Rättad" in rss.description
    with app.app_context():
        assert count(OutboundMessage) == 0 and count(Delivery) == 0
        stored = db.session.scalars(select(Correction)).one()
        assert stored.changes["body"] == [
            "Webbinariet hålls i Umeå.",
            "Webbinariet hålls i Luleå.",
        ]
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "item.corrected")
        ).one()
        assert event.object_id == item_id
        assert [r.number for r in revisions.for_object("item", item_id)] == [2, 1]
    assert_valid(client)


def test_an_editor_may_not_correct_when_approval_is_required(app):
    with app.app_context():
        item_id = sent_issue()
        db.session.add(Setting(key="REQUIRE_APPROVAL", value=True))
        db.session.commit()
    editor = log_in_as(app, Role.EDITOR)
    assert "Rätta artikeln" not in editor.get(f"/editor/items/{item_id}").get_data(
        as_text=True
    )
    response = editor.post(
        f"/editor/items/{item_id}/correct",
        data=correction("Ny", "Ny text", "Rättat"),
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Webbinarium om hemtjänst"
        assert count(Correction) == 0


def test_an_editor_may_correct_when_approval_is_not_required(app):
    with app.app_context():
        item_id = sent_issue()
    editor = log_in_as(app, Role.EDITOR)
    response = editor.post(
        f"/editor/items/{item_id}/correct",
        data=correction("Rättad rubrik", "Text", "Rubriken var fel."),
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Rättad rubrik"


def test_a_correction_needs_a_note(app):
    with app.app_context():
        item_id = sent_issue()
    publisher = log_in_as(app, Role.PUBLISHER)
    response = publisher.post(
        f"/editor/items/{item_id}/correct",
        data=correction("Ändrad", "Text", "  "),
    )
    assert response.status_code == 422
    assert "Skriv kort vad som har rättats." in response.get_data(as_text=True)
    too_long = publisher.post(
        f"/editor/items/{item_id}/correct",
        data=correction("Ändrad", "Text", "x" * 301),
    )
    assert too_long.status_code == 422
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Webbinarium om hemtjänst"
        assert count(Correction) == 0


def test_a_stale_correction_is_a_conflict(app):
    with app.app_context():
        item_id = sent_issue()
    publisher = log_in_as(app, Role.PUBLISHER)
    publisher.post(
        f"/editor/items/{item_id}/correct", data=correction("Först", "T", "Ett.")
    )
    response = publisher.post(
        f"/editor/items/{item_id}/correct", data=correction("Sedan", "T", "Två.")
    )
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Först"
        assert count(Correction) == 1


def test_a_correction_takes_a_link_typed_from_www(app):
    with app.app_context():
        item_id = sent_issue()
    publisher = log_in_as(app, Role.PUBLISHER)
    form = correction("Webbinarium om hemtjänst", "Text", "Ny länk.")
    form["links-0-url"] = "WWW.example.se/ny-anmalan"
    response = publisher.post(f"/editor/items/{item_id}/correct", data=form)
    assert response.status_code == 302
    with app.app_context():
        links = db.session.get(Item, item_id).links
        assert [link.url for link in links] == ["https://WWW.example.se/ny-anmalan"]


def test_a_draft_item_is_not_corrected_but_edited(app):
    with app.app_context():
        item_id = make_item(make_issue(), "aldre", "Utkast").id
    publisher = log_in_as(app, Role.PUBLISHER)
    response = publisher.post(
        f"/editor/items/{item_id}/correct", data=correction("Ny", "T", "Rättat.")
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/editor/items/{item_id}")
    with app.app_context():
        assert db.session.get(Item, item_id).title == "Utkast"
        assert count(Correction) == 0


def test_the_theme_page_and_theme_feeds_show_the_correction_note(make_app):
    """A corrected item is shown with its note wherever it appears outside its
    issue, as the correction form promises."""
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        item_id = sent_issue()
    publisher = log_in_as(app, Role.PUBLISHER)
    response = publisher.post(
        f"/editor/items/{item_id}/correct",
        data=correction(
            "Webbinarium om hemtjänst", "Webbinariet hålls i Luleå.", "Orten var fel."
        ),
    )
    assert response.status_code == 302
    client = app.test_client()
    page = client.get("/themes/aldre").get_data(as_text=True)
    assert "Luleå" in page and "Orten var fel." in page and "Rättad" in page
    rss = feedparser.parse(client.get("/themes/aldre/feed.xml").data).entries[0]
    assert "Orten var fel." in rss.content[0].value
    (entry,) = client.get("/themes/aldre/feed.json").json["items"]
    assert "Orten var fel." in entry["content_html"]
    assert_valid(client)
