"""Fetch another site's RSS or Atom feed safely and turn its entries into items.

Fetching is bounded (timeout, size, redirects) and only reaches public addresses:
every address a host name resolves to is checked, and the connection goes to the
checked address, so a name cannot be re-pointed at an internal one in between.
"""

from __future__ import annotations

import html as html_module
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3

from newsletter.content import MARKUP_TAG, clean_text, is_allowed_url

MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
TIMEOUT = 10.0
USER_AGENT = "newsletter-feed-import/1.0"


class FeedError(Exception):
    """The address could not be read as a feed; the message says why."""


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a fetched feed, as plain values."""

    title: str
    link: str
    summary: str
    published: str


def _check_address(host: str, port: int, allow_private: bool) -> str:
    """Resolve a host and return an address that is allowed to be reached."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FeedError(f"the host name {host} could not be found") from exc
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        public = ip.is_global and not ip.is_multicast
        if not public and not allow_private:
            raise FeedError(
                f"{host} points to a private or local address ({ip}); "
                "only public addresses can be fetched"
            )
    return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, verifying the certificate for the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _get(url: str, allow_private: bool, deadline: float) -> tuple[int, dict, bytes]:
    """One GET to a checked address; the body is cut off past MAX_BYTES."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedError("use an address that starts with https:// or http://")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _check_address(parts.hostname, port, allow_private)
    timeout = max(0.1, deadline - time.monotonic())
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPS(
            parts.hostname, address, port, timeout
        )
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    try:
        conn.request("GET", path, headers={"Host": host, "User-Agent": USER_AGENT,
                                           "Accept": "application/rss+xml, "
                                           "application/atom+xml, application/xml, "
                                           "text/xml;q=0.9, */*;q=0.1"})  # fmt: skip
        response = conn.getresponse()
        body = response.read(MAX_BYTES + 1)
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, body
    except (OSError, http.client.HTTPException) as exc:
        raise FeedError(
            f"the server did not answer in time or broke off: {exc}"
        ) from exc
    finally:
        conn.close()


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
        raise FeedError(f"more than {MAX_REDIRECTS} redirects")
    if status != 200:
        raise FeedError(f"the server answered {status}")
    if len(body) > MAX_BYTES:
        raise FeedError("the feed is larger than 2 MB")
    parsed = feedparser.parse(body)
    if not parsed.entries or not parsed.version:
        raise FeedError("the address does not lead to an RSS or Atom feed")
    return [_entry(entry) for entry in parsed.entries[:100]]


def _plain(html: str) -> str:
    """Editor-safe plain text from feed HTML."""
    text = nh3.clean(html or "", tags={"p", "br"})
    for tag in ("<p>", "</p>", "<br>"):
        text = text.replace(tag, "\n")
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
        title=MARKUP_TAG.sub("", _plain(entry.get("title", "")))[:200]
        or "(utan rubrik)",
        link=link if is_allowed_url(link) and len(link) <= 2000 else "",
        summary=_plain(entry.get("summary", "")),
        published=time.strftime("%Y-%m-%d", published) if published else "",
    )
