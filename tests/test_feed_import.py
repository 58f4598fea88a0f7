"""Editors turn entries of another site's feed into items, fetched safely."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Item
from newsletter.services import feed_import
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

MESSY = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>M</title><link>https://m.example.se/</link>
<description>M</description>
<item><title>Rad ett
Rad två &lt;br&gt;tre &lt;b&gt;fet&lt;/b&gt;</title><link>/relativ</link>
<description>&lt;ul&gt;&lt;li&gt;Punkt A&lt;/li&gt;
&lt;li&gt;Punkt B&lt;/li&gt;&lt;/ul&gt;
&lt;h2&gt;Rubrik&lt;/h2&gt;Text&lt;div&gt;Div&lt;/div&gt;</description></item>
</channel></rss>"""

ROUTES = {
    "/feed.xml": (200, "application/rss+xml", FEED),
    "/fl%C3%B6de.xml": (200, "application/rss+xml", FEED),
    "/messy.xml": (200, "application/rss+xml", MESSY),
    "/page.html": (200, "text/html", "<html><body>Ingen feed</body></html>"),
    "/big.xml": (200, "application/rss+xml", "<rss>" + "x" * (3 * 1024 * 1024)),
    "/loop": (302, "text/plain", ""),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow.xml":  # a byte every 0.2 s: each read is quick
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            for byte in FEED.encode()[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
            return
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
        ("/missing", "answered with status 404"),
        ("/big.xml", "larger than 2 MB"),
        ("/loop", "more than 3 redirects"),
    ],
)
def test_bad_answers_get_a_clear_reason(feed_server, path, message):
    with pytest.raises(FeedError, match=message):
        fetch_feed(feed_server + path, allow_private=True)


def test_the_time_limit_holds_however_slowly_the_server_sends(feed_server, monkeypatch):
    monkeypatch.setattr(feed_import, "TIMEOUT", 1.0)
    started = time.monotonic()
    with pytest.raises(FeedError, match="within 1 seconds"):
        fetch_feed(f"{feed_server}/slow.xml", allow_private=True)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/x",
        "http://127.0.0.1:abc/",
        "http://[::1/x",
        "http://example.se/a b.xml",
        "http://example.se/\tx",
    ],
)
def test_malformed_addresses_are_refused_before_any_connection(url):
    with pytest.raises(FeedError, match="is not a valid web address"):
        fetch_feed(url)


def test_swedish_letters_in_the_path_are_percent_encoded(feed_server):
    entries = fetch_feed(f"{feed_server}/flöde.xml", allow_private=True)
    assert entries[0].title == "Ny rapport om äldres hälsa"


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:192.168.1.1",  # IPv4-mapped
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(address):
    # A literal address resolves without asking anyone; nothing is connected.
    with pytest.raises(FeedError, match="private or local address"):
        feed_import._check_address(address, 80, allow_private=False)


def test_a_public_ipv6_address_is_allowed():
    address = "2a00:1450:4001:80b::200e"
    assert feed_import._check_address(address, 80, allow_private=False) == address


def test_html_blocks_become_paragraphs_titles_one_line_links_absolute(feed_server):
    (entry,) = fetch_feed(f"{feed_server}/messy.xml", allow_private=True)
    assert entry.title == "Rad ett Rad två tre fet"
    assert entry.summary == "Punkt A\n\nPunkt B\n\nRubrik\n\nText\n\nDiv"
    assert entry.link == f"{feed_server}/relativ"


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
    assert (
        "Kunde inte läsa flödet: 127.0.0.1 pekar på en privat eller lokal adress"
        in response.get_data(as_text=True)
    )


def test_picked_entries_are_checked_like_any_input(make_app):
    from tests.conftest import log_in
    from tests.factories import make_editor

    app = make_app()
    with app.app_context():
        make_editor()
        issue = make_issue()
        other = make_item(make_issue("Annat nummer"), "aldre", "Annans artikel")
        inactive = theme("aldre")
        inactive.active = False
        db.session.commit()
        issue_id, other_id, inactive_id = issue.id, other.id, inactive.id
        active_id = theme("psykisk-halsa").id
    editor = log_in(app.test_client(), "editor@example.se")
    url = f"/editor/issues/{issue_id}/import-feed/add"
    entry = {"pick": ["0"], "title-0": "Rubrik", "link-0": "", "summary-0": "Text"}
    for target in ("theme:abc", "theme:", "item:x", f"theme:{inactive_id}",
                   f"item:{other_id}", "nowhere:1"):  # fmt: skip
        assert editor.post(url, data={**entry, "target": target}).status_code == 400
    editor.post(
        url,
        data={
            "pick": ["0"],
            "target": f"theme:{active_id}",
            "title-0": "Nyhet <b>viktig</b>\x01",
            "link-0": "",
            "summary-0": "Se [här](https://evil.example/) och **nu**\n# Rubrik",
        },
    )
    with app.app_context():
        added = db.session.scalar(select(Item).where(Item.issue_id == issue_id))
        assert added.title == "Nyhet viktig"
    page = editor.get(f"/editor/issues/{issue_id}/preview").get_data(as_text=True)
    assert "Se [här](https://evil.example/) och **nu**" in page
    assert 'href="https://evil.example/"' not in page
    skipped = editor.post(
        url,
        data={**entry, "target": f"item:{added.id}"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "0 poster lades till; 1 saknade rubrik eller länk" in skipped


RECORDERS: list[list[str]] = []


def _record_opens(event: str, args: tuple) -> None:
    if event == "open" and RECORDERS and isinstance(args[0], str | bytes):
        RECORDERS[-1].append(os.fsdecode(args[0]))


sys.addaudithook(_record_opens)  # audit hooks stay for the process: it checks a flag


@contextmanager
def files_opened() -> Iterator[list[str]]:
    """Record the paths of every file the process opens inside the block."""
    opened: list[str] = []
    RECORDERS.append(opened)
    try:
        yield opened
    finally:
        RECORDERS.remove(opened)


def test_a_body_naming_a_local_file_is_never_read(feed_server, tmp_path, monkeypatch):
    local = tmp_path / "local-feed.xml"
    local.write_text(FEED.replace("Kampanj i skolan", "Hemlig rad"), "utf-8")
    monkeypatch.setitem(ROUTES, "/path.xml", (200, "application/rss+xml", str(local)))
    with files_opened() as opened, pytest.raises(FeedError, match="RSS or Atom"):
        fetch_feed(f"{feed_server}/path.xml", allow_private=True)
    assert str(local) not in opened


def test_a_body_naming_the_database_file_does_not_touch_it(
    sqlite_app, feed_server, monkeypatch
):
    database = sqlite_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    assert os.path.exists(database)
    monkeypatch.setitem(ROUTES, "/db.xml", (200, "application/rss+xml", database))
    with sqlite_app.test_request_context(), files_opened() as opened:
        with pytest.raises(FeedError):
            fetch_feed(f"{feed_server}/db.xml", allow_private=True)
    assert database not in opened


def test_a_picked_title_loses_a_tag_that_is_not_closed(make_app):
    from tests.conftest import log_in
    from tests.factories import make_editor

    app = make_app()
    with app.app_context():
        make_editor()
        issue_id = make_issue().id
        section = theme("aldre").id
    editor = log_in(app.test_client(), "editor@example.se")
    editor.post(
        f"/editor/issues/{issue_id}/import-feed/add",
        data={
            "pick": ["0", "1"],
            "target": f"theme:{section}",
            "title-0": "Varning <img src=x onerror=alert(1)//",
            "title-1": "Barn <12 år </b",
            "summary-0": "",
            "summary-1": "",
        },
    )
    with app.app_context():
        titles = db.session.scalars(
            select(Item.title).where(Item.issue_id == issue_id).order_by(Item.id)
        ).all()
    assert titles == ["Varning img src=x onerror=alert(1)//", "Barn <12 år /b"]


def test_an_import_onto_an_item_makes_an_edit_form_opened_before_it_conflict(
    make_app,
):
    """Open the form, import onto the item, save the stale form: 409, nothing lost."""
    from tests.conftest import log_in
    from tests.factories import make_editor

    app = make_app()
    with app.app_context():
        make_editor()
        item = make_item(make_issue(), "aldre", "Befintlig artikel")
        issue_id, item_id, aldre = item.issue_id, item.id, item.theme_id
    editor = log_in(app.test_client(), "editor@example.se")
    form_page = editor.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in form_page
    editor.post(
        f"/editor/issues/{issue_id}/import-feed/add",
        data={
            "pick": ["0"],
            "title-0": "Ny rapport om äldres hälsa",
            "link-0": "https://myndigheten.example.se/rapport",
            "summary-0": "",
            "target": f"item:{item_id}",
        },
    )
    stale = editor.post(
        f"/editor/items/{item_id}",
        data={
            "theme_id": str(aldre),
            "title": "Min ändrade rubrik",
            "body": "",
            "contact_name": "",
            "contact_phone": "",
            "contact_email": "",
            "links-0-text": "",
            "links-0-url": "",
            "version": "1",
        },
    )
    body = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "Någon annan sparade artikeln medan du redigerade" in body
    assert 'value="Min ändrade rubrik"' in body  # the editor's input is kept
    with app.app_context():
        kept = db.session.get(Item, item_id)
        assert kept.title == "Befintlig artikel"
        assert [(ln.label, ln.url) for ln in kept.links] == [
            ("Ny rapport om äldres hälsa", "https://myndigheten.example.se/rapport")
        ]
