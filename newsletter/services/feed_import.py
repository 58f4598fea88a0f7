"""Fetch another site's RSS or Atom feed safely and turn its entries into items.

Fetching is bounded (timeout, size, redirects) and only reaches public addresses:
every address a host name resolves to is checked, and the connection goes to the
checked address, so a name cannot be re-pointed at an internal one in between.
"""

from __future__ import annotations

import html as html_module
import http.client
import io
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import feedparser
import nh3
from flask_babel import gettext as _

from newsletter.content import clean_text, escape_markdown, is_allowed_url, title_from
from newsletter.errors import NotFound
from newsletter.extensions import db
from newsletter.models import Item, Theme
from newsletter.services import issues
from newsletter.services.issues import ItemData, LinkData

MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
TIMEOUT = 10.0
USER_AGENT = "newsletter-feed-import/1.0"


class FeedError(Exception):
    """The address could not be read as a feed; the message says why, translated."""


class NoSuchDestination(NotFound):
    """Picked entries can go only to an active theme or to an item of the issue."""


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a fetched feed, as plain values."""

    title: str
    link: str
    summary: str
    published: str


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052,
# RFC 8215) and the deprecated IPv4-compatible form.
EMBEDDING_PREFIXES = [
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
]


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _addresses_within(ip: IPAddress) -> list[IPAddress]:
    """The address itself and every IPv4 address it carries (mapped, 6to4, Teredo,
    NAT64), each of which must be public for the address to be."""
    found: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        found += [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
        found += list(ip.teredo or ())
        if any(ip in prefix for prefix in EMBEDDING_PREFIXES):
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _check_address(host: str, port: int, allow_private: bool) -> str:
    """Resolve a host and return an address that is allowed to be reached."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FeedError(
            _("the host name %(host)s could not be found", host=host)
        ) from exc
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        public = all(a.is_global and not a.is_multicast for a in _addresses_within(ip))
        if not public and not allow_private:
            raise FeedError(
                _(
                    "%(host)s points to a private or local address (%(ip)s); "
                    "only public addresses can be fetched",
                    host=host,
                    ip=str(ip),
                )
            )
    return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, verifying the certificate for the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        """Connect to the checked address, not to what the host name resolves to."""
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    host_header: str
    path: str


def _target(url: str) -> _Target:
    """Parse an address strictly; non-ASCII paths are percent-encoded."""
    invalid = FeedError(_("%(url)s is not a valid web address", url=url))
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise invalid
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise invalid from exc
    if parts.scheme not in ("http", "https") or not host:
        raise FeedError(_("use an address that starts with https:// or http://"))
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise invalid from exc
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    default = 443 if parts.scheme == "https" else 80
    return _Target(
        scheme=parts.scheme,
        host=ascii_host,
        port=port or default,
        host_header=ascii_host if port is None else f"{ascii_host}:{port}",
        path=path,
    )


def _abort(conn: http.client.HTTPConnection) -> None:
    """Wake a read that is still waiting when the time is up."""
    if conn.sock is not None:
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _get(
    url: str, allow_private: bool, deadline: float
) -> tuple[int, dict[str, str], bytes]:
    """One GET to a checked address; the body is cut off past MAX_BYTES, and the
    whole exchange ends at the deadline however slowly the server sends."""
    target = _target(url)
    address = _check_address(target.host, target.port, allow_private)
    timeout = deadline - time.monotonic()
    if timeout <= 0:
        raise FeedError(_timed_out())
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPS(
            target.host, address, target.port, timeout
        )
    else:
        conn = http.client.HTTPConnection(address, target.port, timeout=timeout)
    watchdog = threading.Timer(timeout, _abort, args=(conn,))
    watchdog.start()
    try:
        conn.request("GET", target.path, headers={
            "Host": target.host_header, "User-Agent": USER_AGENT,
            "Accept": "application/rss+xml, application/atom+xml, application/xml, "
                      "text/xml;q=0.9, */*;q=0.1",
        })  # fmt: skip
        response = conn.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = response.read1(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise FeedError(_timed_out())
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, b"".join(chunks)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() >= deadline:
            raise FeedError(_timed_out()) from exc
        raise FeedError(
            _("the connection to %(host)s failed or broke off", host=target.host)
        ) from exc
    finally:
        watchdog.cancel()
        conn.close()


def _timed_out() -> str:
    """The message for a fetch that ran out of time."""
    return str(
        _("the server did not send the feed within %(num)d seconds", num=TIMEOUT)
    )


def fetch_feed(url: str, allow_private: bool = False) -> list[FeedEntry]:
    """Fetch and parse a feed, or raise FeedError with a message for the editor."""
    deadline = time.monotonic() + TIMEOUT
    for _redirect in range(MAX_REDIRECTS + 1):
        status, headers, body = _get(url, allow_private, deadline)
        if status in (301, 302, 303, 307, 308) and "location" in headers:
            url = urljoin(url, headers["location"])
            continue
        break
    else:
        raise FeedError(_("more than %(num)d redirects", num=MAX_REDIRECTS))
    if status != 200:
        raise FeedError(_("the server answered with status %(num)d", num=status))
    if len(body) > MAX_BYTES:
        raise FeedError(_("the feed is larger than 2 MB"))
    # A stream, never the bytes themselves: feedparser opens a str or bytes argument
    # as a local file when it names one. The final address is the base for
    # relative links in the feed.
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers={"content-location": url}
    )
    if not parsed.entries or not parsed.version:
        raise FeedError(_("the address does not lead to an RSS or Atom feed"))
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
