"""Every feed passes the checks of tests/feedcheck.py without an error or warning."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import feedparser
import pytest
from lxml import etree

from newsletter.extensions import db
from newsletter.services import themes
from tests import feedcheck
from tests.factories import make_issue, make_item
from tests.test_archive import BASE, published_app

FEEDS = {
    "/feed.xml": feedcheck.rss_problems,
    "/feed.atom": feedcheck.atom_problems,
    "/themes/aldre/feed.xml": feedcheck.rss_problems,
    "/themes/barn-och-unga/feed.xml": feedcheck.rss_problems,
    "/themes/psykisk-halsa/feed.xml": feedcheck.rss_problems,
}


def assert_valid(client) -> None:
    for url, check in FEEDS.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert check(response.data, BASE + url) == [], url


def test_the_feeds_of_a_full_archive_are_valid(make_app):
    assert_valid(published_app(make_app).test_client())


def test_the_feeds_of_an_empty_archive_are_valid(make_app):
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        make_issue("Ett utkast")
    assert_valid(app.test_client())


def test_awkward_editor_text_keeps_the_feeds_valid(make_app):
    """Markup, entities, CDATA ends and pasted control characters in every field."""
    app = make_app(BASE_URL=BASE)
    awkward = "Vård & omsorg ]]> <script>alert(1)</script> 😀 \x0b\x0c\x1b slut"
    title = "Vård & omsorg ]]> för barn <12 år 😀 \x0b\x1b slut"
    with app.app_context():
        issue = make_issue(
            f"Nummer {title}", intro=f"Inledning {awkward}", preheader=awkward
        )
        make_item(
            issue,
            "aldre",
            f"Rubrik {title}",
            body=f"[relativ](/intern) <img src=x onerror=alert(1)> **{awkward}**",
            links=[(f"Länk {awkward}", "https://example.se/a?b=1&c=2")],
            contact_name=f"Åsa {awkward}",
            contact_phone="+46 (0)8-123 45 67",
            contact_email="asa@example.se",
        )
        issue.status = "sent"
        issue.published_at = datetime(2026, 3, 2, 7, 30, 15, 123456, tzinfo=UTC)
        db.session.commit()
    client = app.test_client()
    assert_valid(client)
    entry = feedparser.parse(client.get("/feed.xml").data).entries[0]
    assert entry.title == "Nummer Vård & omsorg ]]> för barn <12 år 😀 \n slut"
    # The plain summary reaches readers as text: the tag is shown, never run.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 😀" in entry.summary
    assert "<script" not in entry.summary + entry.content[0].value


class _Elements(HTMLParser):
    """Collect the elements a reader would create from text taken as HTML."""

    def __init__(self) -> None:
        """Start with no elements found; entities are read as text."""
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        """Note each element's name."""
        self.found.append(tag)


def elements_in(html: str) -> list[str]:
    """The elements in a piece of HTML, as a feed reader's page would build them."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.found


def test_a_theme_named_with_markup_reaches_readers_as_text(make_app):
    """Themes saved before names were checked may hold markup; readers that take the
    channel title and description for HTML must still find no element in them."""
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        record = themes.create_theme(
            "<img src=x onerror=alert(1)>", "<script>alert(1)</script> & mer"
        )
        db.session.commit()
        url = f"/themes/{record.slug}/feed.xml"
    response = app.test_client().get(url)
    assert feedcheck.rss_problems(response.data, BASE + url) == []
    channel = etree.fromstring(response.data).find("channel")
    title, description = channel.findtext("title"), channel.findtext("description")
    assert "onerror=alert(1)" in title and "alert(1)" in description
    assert elements_in(title) == [] and elements_in(description) == []


# The checks themselves: each kind of fault a validator reports is reported here.

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>T</title><link>https://e.se/</link><description>D</description>
    <language>sv</language>
    <atom:link href="https://e.se/feed.xml" rel="self" type="application/rss+xml"/>
    <item>
      <title>A</title><link>https://e.se/a</link>
      <guid>https://e.se/a</guid>
      <pubDate>Mon, 02 Mar 2026 07:30:15 +0000</pubDate>
      <description>S</description>
      <content:encoded>&lt;p&gt;&lt;a href="https://e.se/x"&gt;x&lt;/a&gt;&lt;/p&gt;</content:encoded>
    </item>
  </channel>
</rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="sv">
  <title>T</title><id>https://e.se/</id><updated>2026-03-02T07:30:15Z</updated>
  <link href="https://e.se/feed.atom" rel="self"/>
  <author><name>N</name></author>
  <entry>
    <title>A</title><id>https://e.se/a</id><updated>2026-03-02T07:30:15Z</updated>
    <link href="https://e.se/a"/>
    <content type="html">&lt;p&gt;x&lt;/p&gt;</content>
  </entry>
</feed>"""


def test_the_samples_themselves_are_valid():
    assert feedcheck.rss_problems(RSS.encode(), "https://e.se/feed.xml") == []
    assert feedcheck.atom_problems(ATOM.encode(), "https://e.se/feed.atom") == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("<language>sv</language>", "", "no <language>"),
        ("<title>T</title>", "", "missing <title>"),
        ("Mon, 02 Mar 2026", "Tue, 02 Mar 2026", "wrong day of the week"),
        ("Mon, 02 Mar 2026 07:30:15 +0000", "2026-03-02T07:30:15Z", "RFC 822"),
        ("Mon, 02 Mar 2026 07:30:15", "Mon, 02 Mar 26 07:30:15", "four-digit"),
        ("<guid>https://e.se/a</guid>", "<guid>a-1</guid>", "not a full URL"),
        ('href="https://e.se/x"', 'href="/x"', "relative URL reference"),
        ("&lt;p&gt;&lt;a", "&lt;p onclick='x'&gt;&lt;a", "onclick"),
        ("&lt;p&gt;&lt;a", "&lt;script&gt;&lt;/script&gt;&lt;a", "<script>"),
        ('href="https://e.se/feed.xml"', 'href="https://e.se/other"', "self reference"),
        ("<title>A</title>", "<title>&lt;b&gt;A&lt;/b&gt;</title>", "contains HTML"),
        ("<description>S</description>", "", "no <description>"),
        ("<title>A</title>", "<title>A</title><title>B</title>", "repeats <title>"),
        ("<title>A</title>", "<title>A</title><summary>B</summary>", "undefined"),
        ("<pubDate>", "<author>x</author><pubDate>", ""),
    ],
)
def test_rss_faults_are_reported(old, new, expected):
    assert old in RSS
    problems = feedcheck.rss_problems(
        RSS.replace(old, new).encode(), "https://e.se/feed.xml"
    )
    if expected:
        assert any(expected in problem for problem in problems), problems
    else:
        assert problems == []


def test_atom_entries_updated_at_the_same_moment_are_reported():
    entry = ATOM[ATOM.index("<entry>") : ATOM.index("</entry>") + 8]
    twice = ATOM.replace(entry, entry + entry.replace("e.se/a<", "e.se/b<"))
    problems = feedcheck.atom_problems(twice.encode(), "https://e.se/feed.atom")
    assert problems == ["two entries have the same atom:updated 2026-03-02T07:30:15Z"]


def test_rss_order_duplicates_and_wellformedness_are_reported():
    moved = RSS.replace("<description>S</description>", "").replace(
        "</content:encoded>", "</content:encoded><description>S</description>"
    )
    assert any(
        "after" in p
        for p in feedcheck.rss_problems(moved.encode(), "https://e.se/feed.xml")
    )
    item = RSS[RSS.index("<item>") : RSS.index("</item>") + 7]
    twice = RSS.replace(item, item + item)
    assert any(
        "repeats the guid" in p
        for p in feedcheck.rss_problems(twice.encode(), "https://e.se/feed.xml")
    )
    broken = RSS.replace("<title>A</title>", "<title>A & B</title>")
    assert any(
        "well-formed" in p
        for p in feedcheck.rss_problems(broken.encode(), "https://e.se/feed.xml")
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("<id>https://e.se/a</id>", "", "entry failed to validate content"),
        (
            "<updated>2026-03-02T07:30:15Z</updated>\n    <link",
            "<updated>2026-03-02</updated>\n    <link",
            "dateTime",
        ),
        ("T07:30:15Z</updated>\n  <link", "T07:30:15</updated>\n  <link", "RFC 3339"),
        ("<author><name>N</name></author>", "", "no author"),
        (
            '<link href="https://e.se/a"/>\n    <content type="html">'
            "&lt;p&gt;x&lt;/p&gt;</content>",
            "",
            "neither an alternate link nor content",
        ),
        ("<id>https://e.se/a</id>", "<id>https://e.se/</id>", "used twice"),
        ("<id>https://e.se/a</id>", "<id>a</id>", "absolute"),
        (
            '<link href="https://e.se/a"/>',
            '<link href="https://e.se/a"/><link href="https://e.se/b"/>',
            "alternate links",
        ),
        ("&lt;p&gt;x", "&lt;p&gt;&lt;img src='x.png'&gt;", "relative URL"),
        ('<link href="https://e.se/feed.atom" rel="self"/>', "", 'rel="self"'),
        ("<title>A</title>", "<title>A</title><foo/>", "failed to validate"),
        (' xml:lang="sv"', "", "xml:lang"),
    ],
)
def test_atom_faults_are_reported(old, new, expected):
    assert old in ATOM
    problems = feedcheck.atom_problems(
        ATOM.replace(old, new).encode(), "https://e.se/feed.atom"
    )
    assert any(expected in problem for problem in problems), problems
