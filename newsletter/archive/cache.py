"""Rendered archive pages and feeds, kept per process until the archive changes.

Every public archive response depends only on published issues (frozen once sent),
the themes and the organisation's identity (names, logo, colour, footer). Three
small queries give a stamp of that state; a rendered body is
reused while the stamp, the URL and the language stay the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, unquote_to_bytes

from sqlalchemy import func, select
from werkzeug.datastructures import Headers
from werkzeug.http import (
    http_date,
    is_resource_modified,
    parse_date,
    remove_entity_headers,
)

from newsletter.extensions import db
from newsletter.models import Issue, IssuePdf, Theme
from newsletter.models.review import Setting
from newsletter.services.archive import PUBLIC
from newsletter.services.identity import IDENTITY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass(frozen=True)
class Rendered:
    """A body with its validators, and the stamp of the state it was rendered in."""

    body: str
    etag: str
    last_modified: datetime | None
    stamp: Stamp | None = None


class Stamp(NamedTuple):
    """The state of the archive: when it last changed, and everything it shows."""

    changed: datetime | None
    state: tuple[object, ...]


def archive_stamp() -> Stamp:
    """What every archive page is built from, in three cheap queries."""
    published, updated, count, versions = db.session.execute(
        select(
            func.max(Issue.published_at),
            func.max(Issue.updated_at),
            func.count(Issue.id),
            func.sum(Issue.version),
        ).where(PUBLIC)
    ).one()
    themes = tuple(
        db.session.execute(
            select(
                Theme.updated_at,
                Theme.id,
                Theme.slug,
                Theme.name,
                Theme.description,
                Theme.position,
            )
        ).all()
    )
    # Issue pages link their PDF edition (with its size) once a worker built it.
    editions, built = db.session.execute(
        select(func.count(IssuePdf.issue_id), func.max(IssuePdf.built_at))
    ).one()
    look = db.session.execute(
        select(Setting.updated_at, Setting.value).where(Setting.key == IDENTITY)
    ).one_or_none()
    identity_changed, identity_value = look if look is not None else (None, None)
    # The value itself, not only the time: two saves within a clock tick differ.
    shown = json.dumps(identity_value, sort_keys=True)
    times = [
        t
        for t in (
            published,
            updated,
            built,
            identity_changed,
            *(row[0] for row in themes),
        )
        if t
    ]
    return Stamp(
        max(times, default=None), (count, versions, editions, built, themes, shown)
    )


class PageCache:
    """A small least-recently-used cache of rendered archive responses."""

    def __init__(self, size: int = 256, stamp_seconds: float = 1.0) -> None:
        self.size = size
        self.items: OrderedDict[tuple[object, ...], Rendered] = OrderedDict()
        # Whole answers (status line, headers, bytes) for visitors without cookies,
        # served by ArchiveAnswers before Flask sees the request.
        self.answers: OrderedDict[tuple[str, object], Answer] = OrderedDict()
        self.lock = Lock()
        # The stamp itself is reused this long, so that busy moments cost no query;
        # a newly published issue shows up at most this much later.
        self.stamp_seconds = stamp_seconds
        self.stamp: Stamp | None = None
        self.stamp_taken = 0.0

    def fresh_stamp(self) -> Stamp | None:
        """The stamp if it is still within its period, else None (no query)."""
        stamp = self.stamp
        if stamp is None or time.monotonic() - self.stamp_taken >= self.stamp_seconds:
            return None
        return stamp

    def current_stamp(self) -> Stamp:
        """Return the archive stamp, asking the database at most once a period."""
        now = time.monotonic()
        if self.stamp is None or now - self.stamp_taken >= self.stamp_seconds:
            self.stamp = archive_stamp()
            self.stamp_taken = now
        return self.stamp

    def get(self, key: tuple[object, ...], render: Callable[[], str]) -> Rendered:
        """Return the cached rendering for key, rendering it on a miss."""
        stamp = self.current_stamp()
        full_key = (*key, stamp)
        with self.lock:
            found = self.items.get(full_key)
            if found is not None:
                self.items.move_to_end(full_key)
                return found
        body = render()
        digest = hashlib.sha256(repr(full_key).encode() + body.encode()).hexdigest()
        rendered = Rendered(body, digest[:24], stamp.changed, stamp)
        with self.lock:
            self.items[full_key] = rendered
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return rendered


@dataclass(frozen=True)
class Answer:
    """A complete 200 answer as Flask sent it, with what a 304 needs."""

    stamp: Stamp
    status: str
    headers: list[tuple[str, str]]
    not_modified_headers: list[tuple[str, str]]
    body: bytes
    etag: str | None
    last_modified: datetime | None


# Set by the archive views on a cacheable answer: (path, variant), the stamp, and
# the PageCache that keeps the answer.
ANSWER_KEY = "newsletter.archive_answer"
# Pages whose answer depends on their whole query (the search page): kept by the
# query's sorted parameters, in a cache of their own (QueryKeyed).
SEARCH_PATH = "/search"


def query_key(query: str) -> tuple[tuple[str, str], ...]:
    """A WSGI query string's parameters, decoded and sorted by name: the same search
    however it is spelt (percent-encoded or raw UTF-8, in any order). A repeated
    name keeps its values' order: the page reads the first one."""
    raw = query.encode("latin-1", "replace")  # WSGI strings carry the raw bytes

    def text(part: bytes) -> str:
        return unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8", "replace")

    pairs = (part.partition(b"=") for part in raw.split(b"&") if part)
    decoded = [(text(name), text(value)) for name, _, value in pairs]
    return tuple(sorted(decoded, key=lambda pair: pair[0]))  # a stable sort


def answer_key(environ: WSGIEnvironment) -> tuple[str, object] | None:
    """The (path, page) a request asks for, when the stored answers may serve it;
    for the search page (path, its sorted parameters)."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get(
        "HTTP_COOKIE"
    ):
        return None  # a session may choose another language, or hold a login
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    if "\x00" in query or "%00" in query:
        return None  # refused with a 400 by the app
    if environ.get("PATH_INFO") == SEARCH_PATH:
        return (path, QueryKeyed(query_key(query)))
    if not query:
        return (path, None)
    page = next((v for k, v in parse_qsl(query) if k == "page"), None)
    return (path, page)


class QueryKeyed(tuple[tuple[str, str], ...]):
    """The sorted parameters of a search, as the variant of its stored answer."""

    __slots__ = ()


def _lookup(pages: PageCache, key: tuple[str, object]) -> Answer | None:
    """The stored answer for key, or for the same path without a page number."""
    path, page = key
    if isinstance(page, QueryKeyed):
        with pages.lock:
            return pages.answers.get((path, page))
    if page is not None and not isinstance(page, str):
        return None
    candidates: list[tuple[str, object]] = [(path, None)]
    if page is not None:
        if not (page.isascii() and page.isdigit() and len(page) <= 6):
            return None
        candidates.insert(0, (path, int(page)))
    else:
        candidates.append((path, 1))
    with pages.lock:
        for candidate in candidates:
            found = pages.answers.get(candidate)
            if found is not None:
                return found
    return None


class ArchiveAnswers:
    """WSGI middleware: answer a cookieless GET or HEAD of an archive page or feed
    from the bytes the app sent before, while the archive stamp is fresh, without
    opening a session, choosing a language, checking limits or asking the database.

    Anything else (a cookie, a stale stamp, an unknown URL) goes to the app, which
    renders or reuses its page cache and stores the answer here again."""

    def __init__(
        self,
        app: WSGIApplication,
        pages: Callable[[], PageCache | None],
        search_pages: Callable[[], PageCache | None] = lambda: None,
    ):
        self.app = app
        self.pages = pages
        self.search_pages = search_pages

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serve a stored answer, or pass the request on and store what comes back."""
        key = answer_key(environ)
        if key is None:
            return self.app(environ, start_response)
        # None until the first archive (or search) request made it.
        pages = self.search_pages() if isinstance(key[1], QueryKeyed) else self.pages()
        stamp = pages.fresh_stamp() if pages is not None else None
        found = _lookup(pages, key) if pages is not None and stamp else None
        if found is not None and found.stamp == stamp:
            return self._serve(found, environ, start_response)
        return self._pass_and_store(environ, start_response)

    @staticmethod
    def _serve(
        answer: Answer, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        conditional = "HTTP_IF_NONE_MATCH" in environ or (
            "HTTP_IF_MODIFIED_SINCE" in environ
        )
        if conditional and not is_resource_modified(
            environ, etag=answer.etag, last_modified=answer.last_modified
        ):
            start_response("304 NOT MODIFIED", _dated(answer.not_modified_headers))
            return []
        start_response(answer.status, _dated(answer.headers))
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [answer.body]

    def _pass_and_store(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        seen: dict[str, Any] = {}

        def remember(
            status: str, headers: list[tuple[str, str]], *args: Any
        ) -> Callable[[bytes], object]:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, *args)

        body = self.app(environ, remember)
        marked = environ.get(ANSWER_KEY)
        if marked is None or environ["REQUEST_METHOD"] != "GET":
            return body
        try:
            chunks = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        answer = _storable(seen, chunks, marked[1])
        pages = marked[2]
        if answer is not None:
            with pages.lock:
                pages.answers[marked[0]] = answer
                pages.answers.move_to_end(marked[0])
                while len(pages.answers) > pages.size:
                    pages.answers.popitem(last=False)
        return [chunks]


def _dated(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The stored headers with today's Date, as the app's conditional answers have."""
    return [*headers, ("Date", http_date())]


def _storable(seen: dict[str, Any], body: bytes, stamp: Stamp) -> Answer | None:
    """An Answer for a public 200 without cookies, else None."""
    headers = Headers(seen.get("headers", []))
    headers.remove("Date")  # dated afresh each time it is served
    if not str(seen.get("status", "")).startswith("200") or "Set-Cookie" in headers:
        return None
    if not headers.get("Cache-Control", "").startswith("public"):
        return None
    etag = headers.get("ETag")
    modified = headers.get("Last-Modified")
    not_modified = headers.copy()
    remove_entity_headers(not_modified)
    return Answer(
        stamp=stamp,
        status=seen["status"],
        headers=headers.to_wsgi_list(),
        not_modified_headers=not_modified.to_wsgi_list(),
        body=body,
        etag=etag.strip('"').removeprefix("W/").strip('"') if etag else None,
        last_modified=parse_date(modified) if modified else None,
    )
