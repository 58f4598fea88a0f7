"""The organisation's identity: set on the settings page by an administrator, shown
in every email, page and feed at once, without a restart."""

from __future__ import annotations

import io
import os
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import feedparser
import pytest
from PIL import Image
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail.emails import identity_context, preview_email
from newsletter.mail.render import render_email
from newsletter.models import AuditEvent
from newsletter.models.review import Setting
from newsletter.services import identity
from newsletter.services.identity import contrast_with_white
from tests.factories import make_issue, make_item, make_subscriber
from tests.test_delivery import send_issue, three_section_issue

ROOT = Path(__file__).parent.parent
TAGLINE = (
    "Inom socialtjänst och angränsande område hälso- och sjukvård samt skolan i "
    "Kalmar län"
)
FULL = {
    "require_approval": "automatic",
    "organisation": "Regionförbundet i Kalmar län",
    "tagline": TAGLINE,
    "newsletter_name": "Samverkansbrevet",
    "brand_colour": "#6B2C91",
    "postal_address": "Box 762\n391 27 Kalmar",
    "editorial_contact": "Redaktionen, redaktion@example.se, 0480-44 83 00",
    "footer_text": "Nyhetsbrev – 4 gånger per år med aktuell information",
    "sender_name": "Samverkan Kalmar län",
    "reply_to": "redaktion@example.se",
    "feed_title": "Samverkansbrevet – nummer",
    "feed_description": "Nyheter från samverkan i länet",
}


def png(width: int = 320, height: int = 80, noise: bool = False) -> bytes:
    """A PNG picture with transparency, as logos are (random pixels make it large:
    they do not compress)."""
    image = Image.new("RGBA", (width, height), (0, 80, 122, 255))
    if noise:
        image = Image.frombytes("RGBA", (width, height), os.urandom(width * height * 4))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def save(admin, **fields):
    """Post the settings form: every identity field empty unless given."""
    data = {name: "" for name in FULL} | {"require_approval": "automatic"} | fields
    return admin.post("/editor/settings", data=data, content_type="multipart/form-data")


def test_each_field_is_saved_and_shown_back_in_the_form(app, admin):
    response = save(admin, **FULL)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.test_request_context():
        current = identity.load()
    assert current.organisation == "Regionförbundet i Kalmar län"
    assert current.newsletter_name == "Samverkansbrevet"
    assert current.tagline == TAGLINE
    assert current.brand_colour == "#6b2c91"  # kept in one spelling
    assert current.postal_address == "Box 762\n391 27 Kalmar"
    assert current.editorial_contact == FULL["editorial_contact"]
    assert current.footer_text == FULL["footer_text"]
    assert current.sender_name == "Samverkan Kalmar län"
    assert current.reply_to == "redaktion@example.se"
    assert current.feed_heading == "Samverkansbrevet – nummer"
    assert current.feed_summary == "Nyheter från samverkan i länet"
    page = admin.get("/editor/settings").get_data(as_text=True)
    assert 'value="Regionförbundet i Kalmar län"' in page
    assert "Box 762\n391 27 Kalmar</textarea>" in page


def test_empty_fields_fall_back_to_the_environment(app, admin):
    save(admin, **FULL)
    assert save(admin).status_code == 302
    with app.test_request_context():
        current = identity.load()
        assert identity.stored() == {}
    assert current.organisation == app.config["ORGANISATION"]
    assert current.newsletter_name == app.config["SITE_NAME"]
    assert current.brand_colour == identity.DEFAULT_BRAND_COLOUR
    assert current.tagline == current.reply_to == current.footer_text == ""
    page = admin.get("/editor/settings").get_data(as_text=True)
    # The empty field says what it falls back to.
    assert f'placeholder="{app.config["ORGANISATION"]}"' in page


def test_a_colour_too_light_for_white_text_is_refused_with_its_ratio(app, admin):
    assert round(contrast_with_white("#00507a"), 1) == 8.6  # the default passes
    assert 1.5 < contrast_with_white("#ffcc00") < 1.52
    response = save(admin, organisation="Ny organisation", brand_colour="#ffcc00")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "1,51:1" in page and "4,5:1" in page  # shown rounded down, Swedish style
    with app.app_context():
        assert identity.stored() == {}  # nothing half-saved


def test_a_colour_that_is_not_a_colour_is_refused(admin):
    response = save(admin, brand_colour="blue")
    assert response.status_code == 422
    assert "sex hexadecimala siffror" in response.get_data(as_text=True)


def test_a_logo_is_stored_shown_with_the_organisation_as_alt_and_removed(app, admin):
    response = save(
        admin, organisation="Kalmar län", logo=(io.BytesIO(png()), "logo.png")
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        kept = identity.stored()
    assert kept["logo_width"] == 320 and kept["logo_height"] == 80
    home = app.test_client().get("/").get_data(as_text=True)
    img = re.search(r'<img class="brand-logo"[^>]*>', home)[0]
    assert 'alt="Kalmar län"' in img and 'width="192" height="48"' in img
    source = re.search(r'src="([^"]+)"', img)[1]
    served = app.test_client().get(source)
    assert served.status_code == 200 and served.mimetype == "image/png"
    served.close()
    # Saving again without a file keeps the logo; "remove" removes it.
    save(admin, organisation="Kalmar län")
    with app.app_context():
        assert identity.stored()["logo"] == kept["logo"]
    assert save(admin, organisation="Kalmar län", remove_logo="y").status_code == 302
    assert "brand-logo" not in app.test_client().get("/").get_data(as_text=True)


def test_an_svg_logo_is_refused_by_name(app, admin):
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'
    response = save(admin, logo=(io.BytesIO(svg), "logo.svg"))
    assert response.status_code == 422
    assert "En SVG-bild kan inte användas som logotyp" in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert identity.stored() == {}


def test_a_file_that_is_not_an_image_is_refused(admin):
    response = save(admin, logo=(io.BytesIO(b"%PDF-1.7 not a logo"), "logo.png"))
    assert response.status_code == 422
    assert "PNG, JPEG eller WebP" in response.get_data(as_text=True)


def admin_of(make_app, **config):
    """A logged-in administrator's client of an app with this configuration."""
    from tests.conftest import log_in
    from tests.factories import make_editor

    app = make_app(**config)
    with app.app_context():
        make_editor(email="admin@example.se", name="Ada Admin", is_admin=True)
    return log_in(app.test_client(), "admin@example.se")


def test_a_logo_over_the_image_limit_is_refused_with_the_limit(make_app):
    admin = admin_of(make_app, IMAGE_MAX_BYTES=40_000)
    big = png(200, 100, noise=True)
    assert len(big) > 40_000
    response = save(admin, logo=(io.BytesIO(big), "logo.png"))
    assert response.status_code == 422
    assert "Logotypen är större än 39,1 kB" in response.get_data(as_text=True)


def test_a_logo_larger_than_the_general_request_limit_is_taken(make_app):
    """The form takes files up to IMAGE_MAX_BYTES, not only MAX_CONTENT_LENGTH."""
    admin = admin_of(make_app, MAX_CONTENT_LENGTH=100_000)
    big = png(300, 200, noise=True)
    assert len(big) > 100_000
    response = save(admin, logo=(io.BytesIO(big), "logo.png"))
    assert response.status_code == 302, response.get_data(as_text=True)


def test_each_changed_field_is_audited_with_before_and_after(app, admin):
    save(admin, organisation="Första namnet", tagline=TAGLINE)
    save(admin, organisation="Andra namnet", tagline=TAGLINE)
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "identity.changed")
            .order_by(AuditEvent.id)
        ).all()
    assert [e.changes for e in events] == [
        {"organisation": ["", "Första namnet"], "tagline": ["", TAGLINE]},
        {"organisation": ["Första namnet", "Andra namnet"]},
    ]
    assert events[1].actor == "admin@example.se"
    log = admin.get("/editor/audit").get_data(as_text=True)
    assert "Organisationens identitet ändrad" in log


def identity_changes(app) -> list[dict]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent.changes)
            .where(AuditEvent.action == "identity.changed")
            .order_by(AuditEvent.id)
        ).all()


def test_saving_unchanged_lines_that_a_browser_ends_with_cr_lf_logs_nothing(app, admin):
    save(admin, postal_address="Regional samverkan\nBox 100\n391 00 Kalmar")
    save(admin, postal_address="Regional samverkan\r\nBox 100\r\n391 00 Kalmar")
    assert identity_changes(app) == [
        {"postal_address": ["", "Regional samverkan\nBox 100\n391 00 Kalmar"]}
    ]
    with app.app_context():
        assert identity.stored()["postal_address"] == (
            "Regional samverkan\nBox 100\n391 00 Kalmar"
        )


def test_lines_stored_with_cr_lf_earlier_are_not_a_change_when_saved_again(app, admin):
    with app.app_context():
        db.session.add(
            Setting(key=identity.IDENTITY, value={"postal_address": "Box 1\r\nKalmar"})
        )
        db.session.commit()
    save(admin, postal_address="Box 1\r\nKalmar")
    assert identity_changes(app) == []


def test_the_issue_email_header_and_footer_show_the_identity(app, admin):
    save(admin, **FULL, logo=(io.BytesIO(png()), "logo.png"))
    with app.app_context():
        logo = identity.stored()["logo"]
        issue = make_issue()
        make_item(issue, "aldre", "Ensamhet bland äldre")
        email = preview_email(issue, "sv")
    html, text = email.html, email.text
    stem = logo.split(".")[0]
    assert re.search(
        rf'<img alt="Regionförbundet i Kalmar län" [^>]*src="http://localhost/media/'
        rf'{stem}-600.png"[^>]*width="240"',
        html,
    )
    assert 'bgcolor="#6b2c91"' in html  # the header band
    assert "Samverkansbrevet" in html
    for shown in (TAGLINE, "Box 762<br>\n391 27 Kalmar", FULL["footer_text"]):
        assert shown in html
    assert 'href="mailto:redaktion@example.se"' in html
    assert 'href="tel:0480448300"' in html
    for shown in ("Regionförbundet i Kalmar län", TAGLINE, "Box 762\n391 27 Kalmar"):
        assert shown in text
    assert FULL["editorial_contact"] in text and FULL["footer_text"] in text
    # Dark mode still leaves the coloured header alone and darkens the content.
    assert "prefers-color-scheme: dark" in html


EMAILS = ROOT / "templates/email"
MESSAGES = sorted(  # every email but the issue, framed by _message.mjml
    folder.name
    for folder in EMAILS.iterdir()
    if folder.is_dir() and folder.name not in ("issue", "issue_test")
)


def test_every_email_but_the_issue_is_framed_as_a_message():
    for name in MESSAGES:
        mjml = (EMAILS / name / "body.mjml").read_text()
        assert mjml.startswith('{% extends "email/_message.mjml" %}'), name


@pytest.mark.parametrize("name", MESSAGES)
def test_each_message_s_text_part_ends_with_the_identity_as_its_html_part(
    app, admin, name
):
    save(admin, **FULL)
    with app.test_request_context():
        issue = make_issue()
        email = render_email(
            name,
            **identity_context(),
            language="sv",
            issue=issue,
            deadline=issue.publish_on or date(2027, 3, 1),
            title="Föräldraträffar",
            proposal=SimpleNamespace(late=False),
        )
    assert "Box 762<br>\n391 27 Kalmar" in email.html
    footer = "\n".join(
        ["--", "Regionförbundet i Kalmar län", TAGLINE, "", "Box 762", "391 27 Kalmar"]
    )
    assert footer in email.text
    assert FULL["footer_text"] in email.text and FULL["footer_text"] in email.html


def test_issue_emails_carry_the_sender_name_and_reply_to(mail_app, smtp_server):
    with mail_app.test_request_context():
        identity.save(
            {"sender_name": "Samverkan Kalmar län", "reply_to": "svar@example.se"},
            "Ada Admin",
        )
        db.session.commit()
    with mail_app.app_context():
        issue_id = three_section_issue()
        make_subscriber("anna@example.se")
    send_issue(mail_app, issue_id)
    (message,) = smtp_server.sink.messages()
    assert message["From"] == "Samverkan Kalmar län <nyhetsbrev@example.se>"
    assert message["Reply-To"] == "svar@example.se"
    assert smtp_server.sink.received[0].mail_from.endswith("@example.se")


def test_a_reply_to_that_is_not_an_address_is_refused(admin):
    response = save(admin, reply_to="redaktionen")
    assert response.status_code == 422
    assert "giltig e-postadress" in response.get_data(as_text=True)


def test_the_site_shows_a_new_name_and_colour_at_once(app, admin):
    visitor = app.test_client()
    assert "Samverkansbrevet" not in visitor.get("/").get_data(as_text=True)
    save(admin, newsletter_name="Samverkansbrevet", brand_colour="#6b2c91")
    page = visitor.get("/").get_data(as_text=True)
    assert '<span class="brand-name">Samverkansbrevet</span>' in page
    sheet = re.search(r'href="(/brand\.css\?v=6b2c91)"', page)[1]
    css = visitor.get(sheet)
    assert "--brand: #6b2c91" in css.get_data(as_text=True)
    assert css.cache_control.max_age == 31536000  # the address changes with it


def test_archive_page_and_feed_show_the_new_name_with_a_new_etag(app, admin):
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars")
        make_item(issue, "aldre", "Ensamhet bland äldre")
        issue.status = "sent"
        issue.published_at = issue.updated_at
        db.session.commit()
        slug = issue.slug
    visitor = app.test_client()
    page, feed = visitor.get(f"/archive/{slug}"), visitor.get("/feed.xml")
    save(admin, newsletter_name="Samverkansbrevet", feed_title="Länets nyhetsbrev")
    new_page, new_feed = visitor.get(f"/archive/{slug}"), visitor.get("/feed.xml")
    assert "Samverkansbrevet" in new_page.get_data(as_text=True)
    assert new_page.headers["ETag"] != page.headers["ETag"]
    assert feedparser.parse(io.BytesIO(new_feed.data)).feed.title == "Länets nyhetsbrev"
    assert new_feed.headers["ETag"] != feed.headers["ETag"]
    # A reader holding the old ETag gets the new feed, not 304.
    again = visitor.get("/feed.xml", headers={"If-None-Match": feed.headers["ETag"]})
    assert again.status_code == 200


def test_a_logo_chosen_with_a_refused_colour_is_kept_for_the_next_save(app, admin):
    # The administrator picks a logo and a colour that is too light: the page
    # comes back with the colour's error, and the logo she chose must not be
    # lost (a file field cannot be filled again by the server).
    response = save(
        admin,
        organisation="Kalmar län",
        brand_colour="#ffcc00",
        logo=(io.BytesIO(png()), "logo.png"),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    pending = re.search(r'name="pending_logo"[^>]*value="([^"]+)"', page)
    assert pending, "the chosen logo is not kept in the form"
    assert "Den valda logotypen" in page  # she sees which logo is kept
    with app.app_context():
        assert identity.stored() == {}  # nothing half-saved
    response = save(
        admin,
        organisation="Kalmar län",
        brand_colour="#00507a",
        pending_logo=pending[1],
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        kept = identity.stored()
    assert kept["logo"] == pending[1]
    assert (kept["logo_width"], kept["logo_height"]) == (320, 80)


def test_a_kept_logo_name_that_is_not_a_stored_logo_is_refused(app, admin):
    response = save(admin, organisation="Kalmar län", pending_logo="../../etc.png")
    assert response.status_code == 422
    assert "Välj den igen" in response.get_data(as_text=True)
    with app.app_context():
        assert identity.stored() == {}


def test_a_sender_name_posted_with_a_line_break_still_lets_emails_go(
    mail_app, smtp_server
):
    # A browser's one-line field drops line breaks, but a posted form may carry
    # them: the stored name must not make every email fail to build.
    with mail_app.test_request_context():
        identity.save({"sender_name": "Samverkan\r\nBcc: x@example.org"}, "Ada")
        db.session.commit()
    with mail_app.app_context():
        issue_id = three_section_issue()
        make_subscriber("anna@example.se")
    send_issue(mail_app, issue_id)
    (message,) = smtp_server.sink.messages()
    assert message["From"] == '"Samverkan Bcc: x@example.org" <nyhetsbrev@example.se>'
    assert message["Bcc"] is None


def test_the_json_feeds_carry_the_same_title_and_author_as_atom_and_rss(app, admin):
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars")
        make_item(issue, "aldre", "Ensamhet bland äldre")
        issue.status = "sent"
        issue.published_at = issue.updated_at
        db.session.commit()
    assert save(admin, **FULL).status_code == 302
    visitor = app.test_client()
    atom = feedparser.parse(io.BytesIO(visitor.get("/feed.atom").data)).feed
    feed = visitor.get("/feed.json").get_json(force=True)
    assert feed["title"] == atom.title == "Samverkansbrevet – nummer"
    assert feed["description"] == atom.subtitle == "Nyheter från samverkan i länet"
    assert feed["authors"][0]["name"] == atom.author == "Regionförbundet i Kalmar län"
    theme_rss = feedparser.parse(io.BytesIO(visitor.get("/themes/aldre/feed.xml").data))
    theme = visitor.get("/themes/aldre/feed.json").get_json(force=True)
    assert theme["title"] == theme_rss.feed.title == "Samverkansbrevet – nummer: Äldre"
    assert theme["authors"][0]["name"] == "Regionförbundet i Kalmar län"


def test_the_footer_identity_is_marked_swedish_on_english_pages(app, admin):
    save(admin, tagline="Inom socialtjänst och skolan i Kalmar län")
    visitor = app.test_client()
    swedish = visitor.get("/").get_data(as_text=True)
    visitor.post("/language", data={"lang": "en", "next": "/"})
    english = visitor.get("/").get_data(as_text=True)
    marked = re.compile(r'<div lang="sv">\s*<p class="footer-organisation">')
    assert marked.search(english)
    assert not marked.search(swedish) and 'class="footer-organisation"' in swedish
