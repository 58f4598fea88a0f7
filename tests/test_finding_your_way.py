"""Finding your way: neighbouring issues, theme pages, the short sign-up form and
the JSON Feed beside RSS and Atom."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import jsonschema
from sqlalchemy import event

from newsletter.extensions import db
from tests.test_archive import BASE, publish, published_app

SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "jsonfeed-1.1.json").read_text()
)


def test_an_issue_links_to_the_issues_before_and_after_it(make_app):
    client = published_app(make_app).test_client()
    page = client.get("/archive/nyhetsbrev-03").get_data(as_text=True)
    previous = re.search(r'<a href="([^"]+)" rel="prev">(.*?)</a>', page)
    following = re.search(r'<a href="([^"]+)" rel="next">(.*?)</a>', page)
    assert previous and following
    assert previous.group(1) == "/archive/nyhetsbrev-02"
    assert "Föregående nummer" in previous.group(2)
    assert "Nyhetsbrev 02" in previous.group(2)
    assert following.group(1) == "/archive/nyhetsbrev-04"
    assert "Nästa nummer" in following.group(2)
    assert "Nyhetsbrev 04" in following.group(2)


def test_the_first_and_newest_issues_have_one_neighbour_each(make_app):
    client = published_app(make_app).test_client()
    oldest = client.get("/archive/nyhetsbrev-00").get_data(as_text=True)
    newest = client.get("/archive/nyhetsbrev-11").get_data(as_text=True)
    assert 'rel="prev"' not in oldest and 'rel="next"' in oldest
    assert 'rel="next"' not in newest and 'rel="prev"' in newest
    # A draft is never a neighbour.
    assert "utkast-som-inte-syns" not in newest


def test_theme_headings_in_an_issue_lead_to_the_theme_pages(make_app):
    client = published_app(make_app).test_client()
    page = client.get("/archive/nyhetsbrev-03").get_data(as_text=True)
    heading = re.search(r'<h2 id="h-aldre">(.*?)</h2>', page).group(1)
    assert 'href="/themes/aldre"' in heading
    assert client.get("/themes/aldre").status_code == 200


def _cta(page: str) -> re.Match[str] | None:
    return re.search(
        r'<form method="get" action="/subscribe">.*?name="email".*?</form>',
        page,
        re.DOTALL,
    )


def test_every_archive_page_offers_the_short_sign_up_form(make_app):
    client = published_app(make_app).test_client()
    for url in ("/", "/archive/nyhetsbrev-03", "/themes/aldre", "/finns-inte"):
        page = client.get(url).get_data(as_text=True)
        assert _cta(page), url
        assert "Få nyhetsbrevet via e-post" in page
        assert "csrf_token" not in _cta(page).group(0)  # cached pages stay shared


def test_editor_and_sign_up_pages_have_no_short_sign_up_form(make_app):
    client = published_app(make_app).test_client()
    for url in ("/editor/login", "/subscribe", "/editor/issues/99999"):
        page = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert not _cta(page), url


def test_the_short_form_prefills_the_double_opt_in_form(make_app):
    client = published_app(make_app).test_client()
    response = client.get("/subscribe", query_string={"email": "anna@example.se"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'name="email"[^>]*value="anna@example.se"', page)
    assert 'name="csrf_token"' in page  # the real form, with its consent text
    assert "Fyll i en giltig e-postadress" not in page


def test_the_short_form_with_a_bad_address_shows_the_forms_error(make_app):
    client = published_app(make_app).test_client()
    page = client.get("/subscribe", query_string={"email": "anna@"}).get_data(
        as_text=True
    )
    assert "Fyll i en giltig e-postadress." in page
    assert 'aria-invalid="true"' in page


def many_items_app(make_app, issues: int = 23):
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        start = datetime(2020, 1, 15, 8, 0, tzinfo=UTC)
        for n in range(issues):
            publish(f"Nummer {n:02}", start + timedelta(days=30 * n))
    return app


def test_a_theme_page_pages_through_its_items_newest_first(make_app):
    client = many_items_app(make_app).test_client()
    first = client.get("/themes/aldre").get_data(as_text=True)
    assert first.count('class="news-item"') == 20
    assert first.index("Nummer 22") < first.index("Nummer 03")
    assert "Sida 1 av 2" in first and 'href="/themes/aldre?page=2"' in first
    second = client.get("/themes/aldre?page=2").get_data(as_text=True)
    assert second.count('class="news-item"') == 3
    assert "Äldreomsorg – Nummer 00" in second
    assert re.search(r'href="/archive/nummer-00#item-\d+"', second)
    assert 'href="/archive/nummer-00"' in second  # the issue's title links too
    for page in ("0", "3", "x", "99999999999999999999"):
        assert client.get(f"/themes/aldre?page={page}").status_code == 404, page


def test_theme_page_numbers_are_cached_apart_and_other_queries_are_not(make_app):
    client = many_items_app(make_app).test_client()
    first = client.get("/themes/aldre").headers["ETag"]
    assert client.get("/themes/aldre?page=2").headers["ETag"] != first
    assert client.get("/themes/aldre?page=1&utm=x").headers["ETag"] == first


def test_pages_announce_the_json_feeds(make_app):
    client = published_app(make_app).test_client()
    index = client.get("/").get_data(as_text=True)
    assert re.search(
        r'<link rel="alternate" type="application/feed\+json"[^>]*href="/feed.json"',
        index,
    )
    theme = client.get("/themes/aldre").get_data(as_text=True)
    assert 'type="application/feed+json"' in theme
    assert 'href="/themes/aldre/feed.json"' in theme


def _json_feed(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/feed+json; charset=utf-8"
    feed = json.loads(response.data)
    jsonschema.validate(
        feed, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return feed


def test_the_json_feed_is_valid_and_has_the_atom_feeds_entries(make_app):
    client = published_app(make_app).test_client()
    feed = _json_feed(client, "/feed.json")
    assert feed["home_page_url"] == f"{BASE}/"
    assert feed["feed_url"] == f"{BASE}/feed.json"
    assert feed["language"] == "sv"
    assert feed["authors"] and feed["authors"][0]["name"]
    atom = feedparser.parse(client.get("/feed.atom").data)
    assert [item["id"] for item in feed["items"]] == [e.id for e in atom.entries]
    assert [item["title"] for item in feed["items"]] == [e.title for e in atom.entries]
    for item, entry in zip(feed["items"], atom.entries, strict=True):
        published = datetime.fromisoformat(item["date_published"])
        assert published.utctimetuple()[:6] == entry.published_parsed[:6]
        assert item["url"].startswith(f"{BASE}/archive/")
    newest = feed["items"][0]
    assert "<strong>webbinarium</strong>" in newest["content_html"]
    assert 'href="https://example.se/anmalan"' in newest["content_html"]
    assert newest["summary"] == "Om Nyhetsbrev 11"


def test_a_theme_json_feed_has_the_themes_items_like_its_rss(make_app):
    client = published_app(make_app).test_client()
    feed = _json_feed(client, "/themes/aldre/feed.json")
    assert feed["title"] == "Nyhetsbrev: Äldre"
    assert feed["feed_url"] == f"{BASE}/themes/aldre/feed.json"
    rss = feedparser.parse(client.get("/themes/aldre/feed.xml").data)
    assert [item["id"] for item in feed["items"]] == [e.id for e in rss.entries]
    assert feed["items"][0]["summary"] == "Ett webbinarium för hemtjänsten."
    assert client.get("/themes/finns-inte/feed.json").status_code == 404


def test_the_json_feeds_answer_304_when_unchanged(make_app):
    client = published_app(make_app).test_client()
    for url in ("/feed.json", "/themes/aldre/feed.json"):
        first = client.get(url)
        assert first.headers["Cache-Control"] == "public, max-age=300"
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        again = client.get(url, headers={"If-Modified-Since": modified})
        assert again.status_code == 304, url


def test_the_json_feed_stays_swedish_for_an_english_visitor(make_app):
    client = published_app(make_app).test_client()
    swedish = client.get("/feed.json").data
    client.post("/language", data={"lang": "en", "next": "/"})
    assert client.get("/feed.json").data == swedish


def _statements(app):
    """Count the SQL statements the app's engine runs."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


def long_stamp_app(make_app):
    """The archive as published_app, its stamp reused for an hour."""
    return published_app(lambda **kw: make_app(**kw, ARCHIVE_STAMP_SECONDS=3600.0))


def test_a_cached_page_is_answered_without_touching_the_database(make_app):
    app = long_stamp_app(make_app)
    client = app.test_client()
    urls = ("/", "/archive/nyhetsbrev-03", "/themes/aldre", "/feed.xml", "/feed.json")
    warm = {url: client.get(url).data for url in urls}
    seen = _statements(app)
    for url in urls:
        again = client.get(url)
        assert again.status_code == 200 and again.data == warm[url], url
        etag = again.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert seen == []


def test_a_visitor_who_chose_english_gets_english_from_the_cache(make_app):
    app = long_stamp_app(make_app)
    swedish_visitor, english_visitor = app.test_client(), app.test_client()
    english_visitor.post("/language", data={"lang": "en", "next": "/"})
    for client in (swedish_visitor, english_visitor):
        client.get("/archive/nyhetsbrev-03")  # warm both languages
    seen = _statements(app)
    english = english_visitor.get("/archive/nyhetsbrev-03")
    swedish = swedish_visitor.get("/archive/nyhetsbrev-03")
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Previous issue" in english.get_data(as_text=True)
    assert '<html lang="sv">' in swedish.get_data(as_text=True)
    assert "Cookie" in english.headers["Vary"]
    assert seen == []


def test_a_cached_answer_skips_the_apps_request_handling_for_cookieless_visitors(
    make_app,
):
    app = long_stamp_app(make_app)
    handled: list[str] = []
    app.before_request(lambda: handled.append("request"))
    anonymous, with_cookie = app.test_client(), app.test_client()
    with_cookie.post("/language", data={"lang": "sv", "next": "/"})
    anonymous.get("/feed.atom")
    handled.clear()
    assert anonymous.get("/feed.atom").status_code == 200
    assert handled == []  # no session, locale, limiter or database work
    assert with_cookie.get("/feed.atom").status_code == 200
    assert handled == ["request"]


def test_cached_answers_keep_headers_head_and_conditional_gets(make_app):
    client = long_stamp_app(make_app).test_client()
    for url in ("/", "/archive/nyhetsbrev-03", "/themes/aldre", "/feed.json"):
        first = client.get(url)
        again = client.get(url)
        undated = [dict(r.headers) for r in (first, again)]
        for headers in undated:
            assert headers.pop("Date")
        assert undated[0] == undated[1], url
        assert again.headers["Content-Security-Policy"]
        head = client.head(url)
        assert head.status_code == 200 and head.data == b""
        assert head.headers["Content-Length"] == first.headers["Content-Length"]
        modified = {"If-Modified-Since": first.headers["Last-Modified"]}
        unchanged = client.get(url, headers=modified)
        assert unchanged.status_code == 304 and unchanged.data == b""
        assert unchanged.headers["ETag"] == first.headers["ETag"]
        stale = {"If-None-Match": '"something-else"'}
        assert client.get(url, headers=stale).status_code == 200


def test_cached_answers_keep_page_numbers_and_404s(make_app):
    client = long_stamp_app(make_app).test_client()  # 12 issues: two pages
    first, second = client.get("/").data, client.get("/?page=2").data
    assert client.get("/?page=1").data == first
    assert client.get("/?utm_source=brev").data == first
    assert client.get("/?page=2").data == second != first
    for page in ("0", "3", "abc", "99999999999999999999", "2%00"):
        assert client.get(f"/?page={page}").status_code in (400, 404), page
    assert client.get("/archive/nyhetsbrev-03?page=7").status_code == 200


def test_a_new_issue_shows_once_the_stamp_period_is_over(make_app):
    app = published_app(lambda **kw: make_app(**kw, ARCHIVE_STAMP_SECONDS=0.3))
    client = app.test_client()
    assert "Nyhetsbrev nytt" not in client.get("/feed.json").get_data(as_text=True)
    with app.app_context():
        publish("Nyhetsbrev nytt", datetime(2026, 11, 20, tzinfo=UTC))
    time.sleep(0.35)
    assert "Nyhetsbrev nytt" in client.get("/feed.json").get_data(as_text=True)
    assert "Nyhetsbrev nytt" in client.get("/").get_data(as_text=True)


def test_a_message_waiting_for_one_visitor_is_never_shown_to_another(make_app):
    app = long_stamp_app(make_app)
    editor, visitor = app.test_client(), app.test_client()
    with editor.session_transaction() as session:
        session["_flashes"] = [("info", "Nyhetsbrev 12 är skickat.")]
    mine = editor.get("/archive/nyhetsbrev-03")
    assert "Nyhetsbrev 12 är skickat." in mine.get_data(as_text=True)
    assert mine.headers["Cache-Control"] == "private, no-store"
    for _ in range(2):  # rendered afresh, then from the stored answer
        page = visitor.get("/archive/nyhetsbrev-03").get_data(as_text=True)
        assert "Nyhetsbrev 12 är skickat." not in page
    assert "Nyhetsbrev 12 är skickat." not in editor.get("/").get_data(as_text=True)


def test_one_visitors_query_does_not_become_everyones_language_switch_target(
    make_app,
):
    app = long_stamp_app(make_app)
    app.test_client().get("/archive/nyhetsbrev-03?ref=annons")
    app.test_client().get("/?page=2&ref=annons")
    for url, target in (
        ("/archive/nyhetsbrev-03", "/archive/nyhetsbrev-03"),
        ("/?page=2", "/?page=2"),
    ):
        page = app.test_client().get(url).get_data(as_text=True)
        shown = re.search(r'name="next" value="([^"]*)"', page).group(1)
        assert shown == target, url


def test_a_page_rendered_while_an_issue_came_out_is_not_kept_as_the_new_state(
    make_app,
):
    # One worker renders the index from the archive as it was; meanwhile an issue
    # is published and another worker takes the new stamp. The page rendered
    # before must not be stored as the answer for the new stamp.
    from flask import before_render_template

    from newsletter.archive.cache import archive_stamp

    app = long_stamp_app(make_app)
    client = app.test_client()
    client.get("/feed.xml")  # the page cache exists, its stamp taken
    pages = app.extensions["archive_pages"]

    def meanwhile(sender, template, context, **extra):
        before_render_template.disconnect(meanwhile, app)
        publish("Nyhetsbrev nytt", datetime(2026, 11, 20, tzinfo=UTC))
        pages.stamp, pages.stamp_taken = archive_stamp(), time.monotonic()

    before_render_template.connect(meanwhile, app)
    assert "Nyhetsbrev nytt" not in client.get("/").get_data(as_text=True)
    assert "Nyhetsbrev nytt" in client.get("/").get_data(as_text=True)
