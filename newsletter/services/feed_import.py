"""Fetch another site's RSS or Atom feed and turn its entries into items.

Fetching goes through the guarded fetcher (newsletter.services.fetcher): bounded in
time, size and redirects, and only to public addresses.
"""

from __future__ import annotations

import html as html_module
import io
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import feedparser
import nh3
from flask_babel import gettext as _

from newsletter.content import clean_text, escape_markdown, is_allowed_url, title_from
from newsletter.errors import NotFound
from newsletter.extensions import db
from newsletter.models import Item, Theme
from newsletter.services import fetcher, issues
from newsletter.services.issues import ItemData, LinkData

MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
TIMEOUT = 10.0
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml, "
    "text/xml;q=0.9, */*;q=0.1"
)


# The fetcher's errors are feed import's: the message says why, translated.
FeedError = fetcher.FetchError
_check_address = fetcher.check_address


class NoSuchDestination(NotFound):
    """Picked entries can go only to an active theme or to an item of the issue."""


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a fetched feed, as plain values."""

    title: str
    link: str
    summary: str
    published: str


def fetch_feed(url: str, allow_private: bool = False) -> list[FeedEntry]:
    """Fetch and parse a feed, or raise FeedError with a message for the editor."""
    answer = fetcher.fetch(
        url,
        allow_private=allow_private,
        timeout=TIMEOUT,
        max_bytes=MAX_BYTES,
        max_redirects=MAX_REDIRECTS,
        accept=ACCEPT,
    )
    status, body, url = answer.status, answer.body, answer.url
    if status != 200:
        raise FeedError("status", num=status)
    if len(body) > MAX_BYTES:
        raise FeedError("feed-too-large")
    # A stream, never the bytes themselves: feedparser opens a str or bytes argument
    # as a local file when it names one. The final address is the base for
    # relative links in the feed.
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers={"content-location": url}
    )
    if not parsed.entries or not parsed.version:
        raise FeedError("not-a-feed")
    return [_entry(entry) for entry in parsed.entries[:100]]


BLOCK_TAGS = {
    "p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "tr", "table", "section", "article", "pre", "dd", "dt", "hr",
}  # fmt: skip
BLOCK_NAMES = "|".join(sorted(BLOCK_TAGS))
BLOCK_TAG = re.compile(rf"</?(?:{BLOCK_NAMES})\b[^>]*>", re.IGNORECASE)


def _plain(html: str) -> str:
    """Editor-safe plain text from feed HTML; blocks become paragraphs."""
    text = BLOCK_TAG.sub("\n", nh3.clean(html or "", tags=BLOCK_TAGS))
    cleaned = nh3.clean(text, tags=set())
    lines = [
        " ".join(line.split()) for line in html_module.unescape(cleaned).splitlines()
    ]
    return clean_text("\n\n".join(line for line in lines if line))[:5000]


def _entry(entry: feedparser.FeedParserDict) -> FeedEntry:
    """Plain, bounded values from a parsed entry."""
    link = entry.get("link", "")
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return FeedEntry(
        title=title_from(_plain(entry.get("title", ""))) or _("(untitled)"),
        link=link if is_allowed_url(link) and len(link) <= 2000 else "",
        summary=_plain(entry.get("summary", "")),
        published=time.strftime("%Y-%m-%d", published) if published else "",
    )


def add_entries_as_items(
    issue_id: int, theme_id: int, entries: Sequence[FeedEntry], editor: str
) -> tuple[int, int]:
    """Add each picked entry as a new item of an active theme; entries without a
    title are skipped. Return how many were added and how many skipped."""
    issue = issues.editable_issue(issue_id)
    theme = db.session.get(Theme, theme_id)
    if theme is None or not theme.active:
        raise NoSuchDestination(f"theme {theme_id} is not an active theme")
    usable = [entry for entry in entries if entry.title]
    for entry in usable:
        data = ItemData(
            title=entry.title,
            body=escape_markdown(entry.summary),
            theme_id=theme.id,
            links=[LinkData(_("Read more"), entry.link)] if entry.link else [],
        )
        issues.add_item(issue.id, data, editor)
    return len(usable), len(entries) - len(usable)


def add_entries_as_links(
    issue_id: int, item_id: int, entries: Sequence[FeedEntry], editor: str
) -> tuple[int, int]:
    """Add the picked entries as links of one of the issue's items, in one save of
    the item (an edit form opened before then conflicts); entries without a title
    or a link are skipped. Return how many were added and how many skipped."""
    issue = issues.editable_issue(issue_id)
    item = db.session.get(Item, item_id)
    if item is None or item.issue_id != issue.id:
        raise NoSuchDestination(f"item {item_id} is not an item of issue {issue_id}")
    usable = [entry for entry in entries if entry.title and entry.link]
    if usable:
        links = [LinkData(entry.title, entry.link) for entry in usable]
        issues.add_links(item.id, links, editor)
    return len(usable), len(entries) - len(usable)
