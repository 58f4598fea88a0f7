"""Editors turn entries of another site's feed into items, fetched safely."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Item
from newsletter.services.feed_import import FeedError, fetch_feed
from tests.factories import make_issue, make_item, theme

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Myndigheten</title><link>https://myndigheten.example.se/</link>
<description>Nyheter</description>
<item><title>Ny rapport om äldres hälsa</title>
<link>https://myndigheten.example.se/rapport</link>
<pubDate>Mon, 02 Nov 2026 09:00:00 +0100</pubDate>
<description>&lt;p&gt;Rapporten visar &lt;b&gt;förbättringar&lt;/b&gt;.&lt;/p&gt;
&lt;script&gt;x()&lt;/script&gt;</description></item>
<item><title>Kampanj i skolan</title><link>javascript:alert(1)</link>
<description>Om kampanjen.</description></item>
</channel></rss>"""

ROUTES = {
    "/feed.xml": (200, "application/rss+xml", FEED),
    "/page.html": (200, "text/html", "<html><body>Ingen feed</body></html>"),
    "/big.xml": (200, "application/rss+xml", "<rss>" + "x" * (3 * 1024 * 1024)),
    "/loop": (302, "text/plain", ""),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        status, kind, body = ROUTES.get(self.path, (404, "text/plain", "nope"))
        data = body.encode("utf-8")
        self.send_response(status)
        if self.path == "/loop":
            self.send_header("Location", "/loop")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_loopback_and_private_addresses_are_refused_by_default(feed_server):
    with pytest.raises(FeedError, match="private or local address"):
        fetch_feed(f"{feed_server}/feed.xml")
    with pytest.raises(FeedError, match="private or local address"):
        fetch_feed("http://10.0.0.1/feed.xml")
    with pytest.raises(FeedError, match="https:// or http://"):
        fetch_feed("file:///etc/passwd")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/page.html", "does not lead to an RSS or Atom feed"),
        ("/missing", "answered 404"),
        ("/big.xml", "larger than 2 MB"),
        ("/loop", "more than 3 redirects"),
    ],
)
def test_bad_answers_get_a_clear_reason(feed_server, path, message):
    with pytest.raises(FeedError, match=message):
        fetch_feed(feed_server + path, allow_private=True)


def test_entries_are_plain_and_safe(feed_server):
    entries = fetch_feed(f"{feed_server}/feed.xml", allow_private=True)
    assert [e.title for e in entries] == [
        "Ny rapport om äldres hälsa",
        "Kampanj i skolan",
    ]
    assert entries[0].summary == "Rapporten visar förbättringar."
    assert entries[0].published == "2026-11-02"
    assert entries[1].link == ""  # javascript: links are dropped


def test_editor_adds_entries_as_items_or_as_links(make_app, feed_server):
    from tests.conftest import log_in
    from tests.factories import make_editor

    app = make_app(FEED_IMPORT_ALLOW_PRIVATE=True)
    with app.app_context():
        make_editor()
        issue = make_issue()
        existing = make_item(issue, "psykisk-halsa", "Befintlig artikel")
        issue_id, existing_id, aldre = issue.id, existing.id, theme("aldre").id
    editor = log_in(app.test_client(), "editor@example.se")
    page = editor.post(
        f"/editor/issues/{issue_id}/import-feed",
        data={"url": f"{feed_server}/feed.xml"},
    ).get_data(as_text=True)
    assert "Ny rapport om äldres hälsa" in page and "<script>" not in page
    form = {
        "pick": ["0"],
        "title-0": "Ny rapport om äldres hälsa",
        "link-0": "https://myndigheten.example.se/rapport",
        "summary-0": "Rapporten visar förbättringar.",
    }
    editor.post(
        f"/editor/issues/{issue_id}/import-feed/add",
        data={**form, "target": f"theme:{aldre}"},
    )
    editor.post(
        f"/editor/issues/{issue_id}/import-feed/add",
        data={**form, "target": f"item:{existing_id}"},
    )
    with app.app_context():
        added = db.session.scalar(
            select(Item).where(Item.title.startswith("Ny rapport"))
        )
        assert added.theme.slug == "aldre"
        assert added.body == "Rapporten visar förbättringar."
        assert [(ln.label, ln.url) for ln in added.links] == [
            ("Läs mer", "https://myndigheten.example.se/rapport")
        ]
        existing = db.session.get(Item, existing_id)
        assert [ln.url for ln in existing.links] == [
            "https://myndigheten.example.se/rapport"
        ]


def test_an_unreadable_feed_is_explained_in_the_form(make_app, feed_server):
    from tests.conftest import log_in
    from tests.factories import make_editor

    app = make_app()
    with app.app_context():
        make_editor()
        issue_id = make_issue().id
    editor = log_in(app.test_client(), "editor@example.se")
    response = editor.post(
        f"/editor/issues/{issue_id}/import-feed",
        data={"url": f"{feed_server}/feed.xml"},
    )
    assert response.status_code == 422
    assert "Kunde inte läsa flödet" in response.get_data(as_text=True)
