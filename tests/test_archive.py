"""The public archive, theme pages and feeds, read the way feed readers read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser

from newsletter.extensions import db
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
    issue.published_at = when
    db.session.commit()
    return issue.id


def published_app(make_app):
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        start = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
        for n in range(12):
            publish(f"Nyhetsbrev {n:02}", start + timedelta(days=30 * n))
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
    assert newest.published == "Fri, 11 Dec 2026 08:00:00 +0000"
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
    assert feed.entries[0].published_parsed[:3] == (2026, 12, 11)


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
