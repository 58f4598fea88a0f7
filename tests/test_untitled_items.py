"""Items without a title: the form, the email, the archive and the feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import feedparser
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail.emails import preview_email
from newsletter.models import Item
from tests.factories import make_issue, make_item, theme
from tests.test_issues import item_form

NOTICE = (
    "Välkommen till årets första nyhetsbrev från regionens kunskapsstöd, "
    "med **nyheter** om vård och omsorg i länet."
)
FIRST_WORDS = (
    "Välkommen till årets första nyhetsbrev från regionens kunskapsstöd, med nyheter …"
)
EMPTY_HEADING = re.compile(r"<h[1-6][^>]*>\s*(<a[^>]*>\s*</a>)?\s*</h[1-6]>")


def published_untitled(app) -> None:
    """A sent issue whose first item has no title, then a titled one."""
    with app.app_context():
        issue = make_issue("Nyhetsbrev februari 2026", slug="februari")
        make_item(issue, "aldre", "", body=NOTICE)
        make_item(issue, "aldre", "Webbinarium om hemtjänst", body="Den 3 mars.")
        issue.status = "sent"
        issue.published_at = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
        db.session.commit()


def test_the_item_form_accepts_an_item_without_a_title(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new",
        data=item_form(section, title="", body=NOTICE),
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Item.title)) == ""
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert FIRST_WORDS in page


def test_an_item_with_neither_title_nor_text_is_refused(app, editor):
    with app.app_context():
        issue_id = make_issue().id
        section = theme("aldre").id
    response = editor.post(
        f"/editor/issues/{issue_id}/items/new", data=item_form(section, title="")
    )
    assert response.status_code == 422
    assert "Ge artikeln en rubrik eller en text." in response.get_data(as_text=True)


def test_the_email_shows_an_untitled_item_without_an_empty_heading(app):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "", body=NOTICE)
        email = preview_email(issue, "sv")
    assert "Välkommen till årets första nyhetsbrev" in email.html
    assert not EMPTY_HEADING.search(email.html)
    # The text part goes from the section's underline straight to the text.
    assert re.search(r"ÄLDRE\n-+\n\n+Välkommen till årets", email.text), email.text


def test_the_archive_page_shows_an_untitled_item_without_an_empty_heading(app):
    published_untitled(app)
    page = app.test_client().get("/archive/februari").get_data(as_text=True)
    assert "Välkommen till årets första nyhetsbrev" in page
    assert "Webbinarium om hemtjänst" in page
    assert not EMPTY_HEADING.search(page)


def test_a_theme_feed_entry_of_an_untitled_item_is_named_by_its_first_words(app):
    published_untitled(app)
    response = app.test_client().get("/themes/aldre/feed.xml")
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    titles = sorted(entry.title for entry in feed.entries)
    assert titles == [FIRST_WORDS, "Webbinarium om hemtjänst"]


def test_the_issue_feeds_carry_an_untitled_item_without_an_empty_heading(app):
    published_untitled(app)
    client = app.test_client()
    for url in ("/feed.xml", "/feed.atom"):
        feed = feedparser.parse(client.get(url).data)
        assert not feed.bozo, feed.bozo_exception
        content = feed.entries[0].content[0].value
        assert "Välkommen till årets första nyhetsbrev" in content, url
        assert not EMPTY_HEADING.search(content), url


def test_the_theme_page_names_an_untitled_item_by_its_first_words(app):
    published_untitled(app)
    page = app.test_client().get("/themes/aldre").get_data(as_text=True)
    assert f">{FIRST_WORDS}</a></h2>" in page
