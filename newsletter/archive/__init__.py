"""The public side: the archive of published issues, theme pages and feeds."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import format_datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
    session,
)
from flask_babel import force_locale, get_locale, gettext

from newsletter.archive.cache import PageCache
from newsletter.config import settings
from newsletter.content import clean_text
from newsletter.models import Theme
from newsletter.models.types import utcnow
from newsletter.services import archive, corrections, media, search, themes
from newsletter.services.issues import sections
from newsletter.web import answer_domain_errors

bp = Blueprint("archive", __name__)
answer_domain_errors(bp)

CACHE_SECONDS = 300
# Results change when an issue is published or corrected: a short shared cache.
SEARCH_CACHE_SECONDS = 60
# Stored images never change under their content-hashed names.
MEDIA_CACHE = "public, max-age=31536000, immutable"
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


def _pages(name: str = "archive_pages", size: int = 256) -> PageCache:
    """This app's cache of rendered archive responses (search pages have a cache
    of their own: queries anyone can vary must not push archive pages out)."""
    cache = current_app.extensions.get(name)
    if cache is None:
        seconds = settings().archive_stamp_seconds
        cache = current_app.extensions[name] = PageCache(
            size=size, stamp_seconds=seconds
        )
    return cache


class Missing(Exception):
    """The page asked for does not exist."""


def _respond(
    render: Callable[[], str],
    content_type: str,
    variant: object = None,
    localised: bool = True,
    cache: PageCache | None = None,
    max_age: int = CACHE_SECONDS,
) -> Response:
    """Serve a (cached) rendering with ETag and Last-Modified; 304 when unchanged.

    The cache key holds only what the page depends on (not the raw query string,
    which anyone can vary to push real pages out of the cache)."""
    language = str(get_locale()) if localised else None
    key = (
        request.endpoint,
        tuple(sorted((request.view_args or {}).items())),
        variant,
        language,
    )
    try:
        rendered = (cache or _pages()).get(key, render)
    except Missing:
        abort(404)
    response = Response(rendered.body, content_type=content_type)
    response.set_etag(rendered.etag)
    if rendered.last_modified is not None:
        response.last_modified = rendered.last_modified
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    if localised:
        response.vary.add("Cookie")  # the chosen language lives in the session
    response.make_conditional(request)  # answers 304 in place when unchanged
    return response


@bp.after_request
def private_when_setting_cookies(response: Response) -> Response:
    """A response that will carry a cookie (a restored editor login, a new language
    choice) must never be stored by a shared cache, whatever it shows."""
    if response.headers.get("Set-Cookie") or (
        current_app.session_interface.should_set_cookie(current_app, session)
    ):
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/")
def index() -> Response:
    """List published issues, newest first, ten a page; other pages are 404."""
    asked = request.args.get("page", "1")
    if not asked.isascii() or not asked.isdigit() or len(asked) > 6:
        abort(404)
    number = int(asked)

    def render() -> str:
        page = archive.index_page(number)
        if page is None:
            raise Missing(number)
        return render_template("archive/index.html", page=page, issues=page.issues)

    return _respond(render, HTML, variant=number)


@bp.get("/archive/<slug>")
def issue(slug: str) -> Response:
    """Show one published issue with all its themes."""

    def render() -> str:
        record = archive.published_issue(slug)
        if record is None:
            raise Missing(slug)
        return render_template(
            "public/issue.html",
            issue=record,
            sections=sections(record),
            preview=False,
            corrections=corrections.for_issue(record.id),
        )

    return _respond(render, HTML)


@bp.get("/themes/<slug>")
def theme(slug: str) -> Response:
    """One theme's items across published issues."""

    def render() -> str:
        record = archive.theme_by_slug(slug)
        if record is None:
            raise Missing(slug)
        rows = archive.theme_items(record.id)
        return render_template("archive/theme.html", theme=record, rows=rows)

    return _respond(render, HTML)


def _render_feed(template: str, **context: object) -> str:
    """Render a feed in the site's language (feeds say language sv, whatever the
    visitor chose for pages); text stored before input was cleaned cannot make it
    ill-formed XML."""
    base = settings().base_url
    with force_locale(settings().babel_default_locale):
        return clean_text(
            render_template(
                template,
                base=base,
                rfc822=format_datetime,
                now=utcnow,
                corrections_of=corrections.for_issue,
                last_change=corrections.last_change,
                newest_change=corrections.newest_change,
                **context,
            )
        )


@bp.get("/feed.xml")
def rss() -> Response:
    """RSS 2.0 of the issues, full content plus a plain summary."""

    def render() -> str:
        return _render_feed(
            "feeds/issues.rss.xml", issues=archive.latest_issues(), sections=sections
        )

    return _respond(render, RSS, localised=False)


@bp.get("/feed.atom")
def atom() -> Response:
    """Atom 1.0 of the issues."""

    def render() -> str:
        return _render_feed(
            "feeds/issues.atom.xml", issues=archive.latest_issues(), sections=sections
        )

    return _respond(render, ATOM, localised=False)


@bp.get("/themes/<slug>/feed.xml")
def theme_rss(slug: str) -> Response:
    """RSS 2.0 of one theme's items."""

    def render() -> str:
        record = archive.theme_by_slug(slug)
        if record is None:
            raise Missing(slug)
        rows = archive.theme_items(record.id, limit=archive.FEED_SIZE)
        return _render_feed("feeds/theme.rss.xml", theme=record, rows=rows)

    return _respond(render, RSS, localised=False)


class Refused(Exception):
    """A search with a query or filter it cannot take; carries the page saying so."""

    def __init__(self, body: str) -> None:
        super().__init__(body)
        self.body = body


@bp.get("/search")
def search_page() -> Response | tuple[str, int, dict[str, str]]:
    """Search the published archive; with no query, the form alone."""
    query = request.args.get("q", "").strip()
    theme_slug = request.args.get("theme", "")
    year_text = request.args.get("year", "")
    page_text = request.args.get("page", "1")
    if not page_text.isascii() or not page_text.isdigit() or len(page_text) > 6:
        abort(404)
    if int(page_text) < 1:
        abort(404)
    args = {"q": query, "theme": theme_slug, "year": year_text}

    def render() -> str:
        choices = themes.list_themes()
        years = search.years()
        theme = next((t for t in choices if t.slug == theme_slug), None)
        year = int(year_text) if year_text.isascii() and year_text.isdigit() else None
        context = {
            "query": query,
            "theme_slug": theme_slug,
            "year_text": year_text,
            "themes": choices,
            "years": years,
            "max_query": search.MAX_QUERY,
            "args": {name: value for name, value in args.items() if value},
        }
        error = _search_error(query, theme_slug, theme, year_text, year, years)
        if error is not None:
            raise Refused(
                render_template("archive/search.html", error=error, **context)
            )
        results = None
        if query:
            theme_id = theme.id if theme else None
            results = search.search(query, theme_id, year, int(page_text))
            if results.page > results.pages:
                raise Missing(page_text)
        return render_template("archive/search.html", results=results, **context)

    try:
        return _respond(
            render,
            HTML,
            variant=(query, theme_slug, year_text, int(page_text)),
            cache=_pages("search_pages", size=512),
            max_age=SEARCH_CACHE_SECONDS,
        )
    except Refused as refused:
        return refused.body, 400, {"Cache-Control": "no-store"}


def _search_error(
    query: str,
    theme_slug: str,
    theme: Theme | None,
    year_text: str,
    year: int | None,
    years: list[int],
) -> str | None:
    """What is wrong with a search's query or filters, or None."""
    if len(query) > search.MAX_QUERY:
        return gettext(
            "Shorten your search to at most %(count)d characters.",
            count=search.MAX_QUERY,
        )
    if theme_slug and theme is None:
        return gettext("Choose a theme from the list.")
    if year_text and year not in years:
        return gettext("Choose a year from the list.")
    return None


@bp.get("/media/<name>")
def media_file(name: str) -> Response:
    """A stored image variant, cached for a year (its name is its content)."""
    if not media.is_image_file(name):
        abort(404)
    response = send_from_directory(media.media_path(), name, max_age=31536000)
    response.headers["Cache-Control"] = MEDIA_CACHE
    return response
