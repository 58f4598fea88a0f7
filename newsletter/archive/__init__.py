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
from newsletter.models.types import utcnow
from newsletter.services import archive, corrections, media, search, themes
from newsletter.services.issues import sections
from newsletter.web import answer_domain_errors

bp = Blueprint("archive", __name__)
answer_domain_errors(bp)

CACHE_SECONDS = 300
# Results change when an issue is published or corrected: a short shared cache.
SEARCH_CACHE = "public, max-age=60"
# Stored images never change under their content-hashed names.
MEDIA_CACHE = "public, max-age=31536000, immutable"
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


def _pages() -> PageCache:
    """This app's cache of rendered archive responses."""
    cache = current_app.extensions.get("archive_pages")
    if cache is None:
        seconds = settings().archive_stamp_seconds
        cache = current_app.extensions["archive_pages"] = PageCache(
            stamp_seconds=seconds
        )
    return cache


class Missing(Exception):
    """The page asked for does not exist."""


def _respond(
    render: Callable[[], str],
    content_type: str,
    variant: object = None,
    localised: bool = True,
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
        rendered = _pages().get(key, render)
    except Missing:
        abort(404)
    response = Response(rendered.body, content_type=content_type)
    response.set_etag(rendered.etag)
    if rendered.last_modified is not None:
        response.last_modified = rendered.last_modified
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
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


@bp.get("/search")
def search_page() -> tuple[str, int, dict[str, str]]:
    """Search the published archive; with no query, the form alone."""
    query = request.args.get("q", "").strip()
    theme_slug = request.args.get("theme", "")
    year_text = request.args.get("year", "")
    page_text = request.args.get("page", "1")
    if not page_text.isascii() or not page_text.isdigit() or len(page_text) > 6:
        abort(404)
    choices = themes.list_themes()
    years = search.years()
    theme = next((t for t in choices if t.slug == theme_slug), None)
    year = int(year_text) if year_text.isascii() and year_text.isdigit() else None
    error = None
    if len(query) > search.MAX_QUERY:
        error = gettext(
            "Shorten your search to at most %(count)d characters.",
            count=search.MAX_QUERY,
        )
    elif theme_slug and theme is None:
        error = gettext("Choose a theme from the list.")
    elif year_text and year not in years:
        error = gettext("Choose a year from the list.")
    results = None
    if query and error is None:
        results = search.search(
            query, theme.id if theme else None, year, int(page_text)
        )
        if results.page > results.pages:
            abort(404)
    body = render_template(
        "archive/search.html",
        query=query,
        theme_slug=theme_slug,
        year_text=year_text,
        themes=choices,
        years=years,
        error=error,
        results=results,
        max_query=search.MAX_QUERY,
        args={
            name: value
            for name, value in (
                ("q", query),
                ("theme", theme_slug),
                ("year", year_text),
            )
            if value
        },
    )
    headers = {"Cache-Control": SEARCH_CACHE, "Vary": "Cookie"}
    return body, 400 if error else 200, headers


@bp.get("/media/<name>")
def media_file(name: str) -> Response:
    """A stored image variant, cached for a year (its name is its content)."""
    if not media.is_image_file(name):
        abort(404)
    response = send_from_directory(media.media_path(), name, max_age=31536000)
    response.headers["Cache-Control"] = MEDIA_CACHE
    return response
