"""The public archive, theme pages and feeds, read the way feed readers read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
from sqlalchemy import update

from newsletter.extensions import db
from newsletter.models import Theme
from tests.factories import make_issue, make_item, make_subscriber

BASE = "https://nyhetsbrev.example.se"


def publish(title: str, when: datetime, **item_fields) -> int:
    """A published issue with an item in Äldre and one in Barn och unga."""
    issue = make_issue(title, preheader=f"Om {title}")
    make_item(
        issue,
        "aldre",
        f"Äldreomsorg – {title}",
        body="Ett **webbinarium** för hemtjänsten.",
        links=[("Anmälan", "https://example.se/anmalan")],
        contact_name="Karin Ek",
        **item_fields,
    )
    make_item(issue, "barn-och-unga", f"Skolan – {title}")
    issue.status = "sent"
    issue.published_at = issue.updated_at = when
    db.session.commit()
    return issue.id


def published_app(make_app):
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        start = datetime(2025, 1, 15, 8, 0, tzinfo=UTC)
        for n in range(12):
            publish(f"Nyhetsbrev {n:02}", start + timedelta(days=30 * n))
        # The themes were set up long before (changes today must show as later).
        db.session.execute(update(Theme).values(updated_at=start))
        db.session.commit()
        make_issue("Utkast som inte syns")
        make_subscriber()
    return app


def test_the_index_is_newest_first_paginated_and_hides_drafts(make_app):
    client = published_app(make_app).test_client()
    first = client.get("/").get_data(as_text=True)
    assert first.index("Nyhetsbrev 11") < first.index("Nyhetsbrev 02")
    assert "Nyhetsbrev 01" not in first and "Sida 1 av 2" in first
    second = client.get("/?page=2").get_data(as_text=True)
    assert "Nyhetsbrev 01" in second and "Nyhetsbrev 00" in second
    assert "Utkast som inte syns" not in first + second
    assert (
        'type="application/rss+xml"' in first and 'type="application/atom+xml"' in first
    )


def test_an_issue_page_has_item_anchors_and_no_personal_links(make_app):
    client = published_app(make_app).test_client()
    page = client.get("/archive/nyhetsbrev-03").get_data(as_text=True)
    assert 'id="item-' in page and 'href="#item-' in page
    assert "/unsubscribe/" not in page and "/preferences/" not in page
    assert client.get("/archive/utkast-som-inte-syns").status_code == 404


def test_a_theme_page_lists_its_items_across_issues(make_app):
    client = published_app(make_app).test_client()
    page = client.get("/themes/aldre").get_data(as_text=True)
    assert page.count('class="news-item"') == 12
    assert "Skolan –" not in page
    assert "/archive/nyhetsbrev-11#item-" in page
    assert client.get("/themes/finns-inte").status_code == 404


def test_rss_reads_cleanly_with_swedish_text_dates_and_permanent_guids(make_app):
    response = published_app(make_app).test_client().get("/feed.xml")
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "rss20"
    assert feed.feed.language == "sv"
    assert len(feed.entries) == 12
    newest = feed.entries[0]
    assert newest.title == "Nyhetsbrev 11"
    assert newest.link == f"{BASE}/archive/nyhetsbrev-11"
    assert newest.id == newest.link and newest.guidislink is False
    assert newest.published == "Thu, 11 Dec 2025 08:00:00 +0000"
    assert newest.summary == "Om Nyhetsbrev 11"
    content = newest.content[0].value
    assert "<strong>webbinarium</strong>" in content and "Äldreomsorg" in content
    assert 'href="https://example.se/anmalan"' in content
    self_link = [link for link in feed.feed.links if link.rel == "self"]
    assert self_link[0].href == f"{BASE}/feed.xml"
    raw = response.get_data(as_text=True)
    assert raw.index("<description>Om Nyhetsbrev 11") < raw.index("<content:encoded>")


def test_atom_reads_cleanly(make_app):
    response = published_app(make_app).test_client().get("/feed.atom")
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.entries[0].title == "Nyhetsbrev 11"
    assert feed.entries[0].id == f"{BASE}/archive/nyhetsbrev-11"
    assert feed.entries[0].published_parsed[:3] == (2025, 12, 11)


def test_a_theme_feed_has_the_themes_items_with_item_permalinks(make_app):
    response = published_app(make_app).test_client().get("/themes/aldre/feed.xml")
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Nyhetsbrev: Äldre"
    assert len(feed.entries) == 12
    assert all(e.title.startswith("Äldreomsorg") for e in feed.entries)
    assert "#item-" in feed.entries[0].id
    assert feed.entries[0].summary == "Ett webbinarium för hemtjänsten."


def test_conditional_get_answers_304(make_app):
    client = published_app(make_app).test_client()
    for url in ("/feed.xml", "/feed.atom", "/", "/archive/nyhetsbrev-11"):
        first = client.get(url)
        assert first.headers["Cache-Control"] == "public, max-age=300"
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        again = client.get(url, headers={"If-Modified-Since": modified})
        assert again.status_code == 304, url


def test_a_new_issue_changes_the_feeds_validator(make_app):
    app = published_app(make_app)
    client = app.test_client()
    etag = client.get("/feed.xml").headers["ETag"]
    with app.app_context():
        publish("Nyhetsbrev nytt", datetime(2026, 11, 20, tzinfo=UTC))
    response = client.get("/feed.xml", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert "Nyhetsbrev nytt" in response.get_data(as_text=True)


def test_pages_past_the_last_and_odd_page_numbers_are_404(make_app):
    client = published_app(make_app).test_client()  # 12 issues: two pages
    assert client.get("/?page=2").status_code == 200
    for page in ("0", "-1", "abc", "1.5", "3", "99999999999999999999", "%C2%B2"):
        assert client.get(f"/?page={page}").status_code == 404, page


def test_unrelated_query_strings_get_the_same_cached_page(make_app):
    client = published_app(make_app).test_client()
    etag = client.get("/").headers["ETag"]
    assert client.get("/?utm_source=brev").headers["ETag"] == etag
    assert (
        client.get("/feed.xml?x=1").headers["ETag"]
        == (client.get("/feed.xml").headers["ETag"])
    )


def test_a_cancelled_issue_leaves_the_archive_and_the_feeds(make_app):
    from newsletter.models import Issue
    from newsletter.services import sending

    app = published_app(make_app)
    client = app.test_client()
    assert client.get("/archive/nyhetsbrev-11").status_code == 200
    with app.app_context():
        issue = db.session.scalar(db.select(Issue).filter_by(slug="nyhetsbrev-11"))
        issue.status = "sending"
        sending.cancel(issue.id, datetime.now(UTC))
        db.session.commit()
    assert client.get("/archive/nyhetsbrev-11").status_code == 404
    for url in ("/", "/feed.xml", "/feed.atom", "/themes/aldre/feed.xml"):
        assert "Nyhetsbrev 11" not in client.get(url).get_data(as_text=True), url


def test_renaming_a_theme_moves_last_modified(make_app):
    from tests.factories import theme

    app = published_app(make_app)
    client = app.test_client()
    before = client.get("/feed.xml").headers["Last-Modified"]
    with app.app_context():
        theme("aldre").name = "Äldre personer"
        db.session.commit()
    again = client.get("/feed.xml", headers={"If-Modified-Since": before})
    assert again.status_code == 200
    assert "Äldre personer" in again.get_data(as_text=True)


def test_feeds_stay_swedish_whatever_language_a_visitor_chose(make_app):
    client = published_app(make_app).test_client()
    swedish = client.get("/feed.xml")
    client.post("/language", data={"lang": "en", "next": "/"})
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    english_visitor = client.get("/feed.xml")
    assert english_visitor.data == swedish.data
    assert "nyheter om barn och unga" in english_visitor.get_data(as_text=True)


def test_a_response_that_sets_a_cookie_is_never_publicly_cacheable(make_app):
    from tests.conftest import csrf_token_from
    from tests.factories import PASSWORD, make_editor

    app = published_app(make_app)
    with app.app_context():
        make_editor()
    client = app.test_client()
    assert client.get("/").headers["Cache-Control"] == "public, max-age=300"
    token = csrf_token_from(client)
    client.post(
        "/editor/login",
        data={
            "csrf_token": token,
            "email": "editor@example.se",
            "password": PASSWORD,
            "remember": "y",
        },
    )
    # The browser was closed: only the remember-me cookie is left.
    session_cookie = app.config["SESSION_COOKIE_NAME"]  # __Host-session (https)
    client.delete_cookie(session_cookie)
    restored = client.get("/archive/nyhetsbrev-05")  # not rendered yet
    assert f"{session_cookie}=" in restored.headers.get("Set-Cookie", "")
    assert restored.headers["Cache-Control"] == "private, no-store"
