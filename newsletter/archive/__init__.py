"""The public side: the archive of published issues, theme pages and feeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from email.utils import format_datetime
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    send_file,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import force_locale, get_locale, gettext
from flask_babel import gettext as _

from newsletter.archive import json_feed
from newsletter.archive.cache import (
    ANSWER_KEY,
    ArchiveAnswers,
    PageCache,
    QueryKeyed,
    query_key,
)
from newsletter.config import settings
from newsletter.content import clean_text
from newsletter.models import Issue, Item, Theme
from newsletter.models.review import Correction
from newsletter.models.types import utcnow
from newsletter.services import archive, corrections, media, pdf, search, themes
from newsletter.services.issues import sections
from newsletter.web import answer_domain_errors

bp = Blueprint("archive", __name__)
answer_domain_errors(bp)

CACHE_SECONDS = 300
SEARCH_PAGES = "search_pages"  # the search pages' own cache (app.extensions)
# Results change when an issue is published or corrected: a short shared cache.
SEARCH_CACHE_SECONDS = 60
# Stored images never change under their content-hashed names.
MEDIA_CACHE = "public, max-age=31536000, immutable"
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
JSON_FEED = "application/feed+json; charset=utf-8"


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


@bp.app_template_global()
def item_corrections(item: Item) -> Sequence[Correction]:
    """An item's public correction notes, for pages and feeds that show the item
    outside its issue (theme pages and theme feeds)."""
    return corrections.for_item(item.id)


class Missing(Exception):
    """The page asked for does not exist."""


def _respond(
    render: Callable[[], str],
    content_type: str,
    variant: object = None,
    localised: bool = True,
    cache: PageCache | None = None,
    max_age: int = CACHE_SECONDS,
    by_query: bool = False,
) -> Response:
    """Serve a (cached) rendering with ETag and Last-Modified; 304 when unchanged.

    The cache key holds only what the page depends on (not the raw query string,
    which anyone can vary to push real pages out of the cache)."""
    if not by_query:  # (the search page sets its own)
        # A rendering is shared by every query spelling of its page: the language
        # switch returns to the page itself, not to the first visitor's query.
        number = f"?page={variant}" if isinstance(variant, int) and variant > 1 else ""
        g.current_path = request.path + number
    if session.get("_flashes"):
        # A message waiting for this visitor (base.html shows it) belongs in no
        # shared rendering: render afresh and keep the answer out of every cache.
        try:
            body = render()
        except Missing:
            abort(404)
        response = Response(body, content_type=content_type)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    language = str(get_locale()) if localised else None
    key = (
        request.endpoint,
        tuple(sorted((request.view_args or {}).items())),
        variant,
        language,
    )
    pages = cache or _pages()
    try:
        rendered = pages.get(key, render)
    except Missing:
        abort(404)
    # Whole answers are kept for visitors without cookies (see ArchiveAnswers):
    # by page number, or (search pages) by all of the query's parameters.
    # Stored under the stamp it was rendered in, not the cache's current one: a
    # stamp another request took meanwhile may already include a newer issue.
    if rendered.stamp is not None and (
        not localised or language == _default_language()
    ):
        environ = request.environ
        path = environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"]
        kept = (
            QueryKeyed(query_key(environ.get("QUERY_STRING", "")))
            if by_query
            else variant
        )
        environ[ANSWER_KEY] = ((path, kept), rendered.stamp, pages)
    response = Response(rendered.body, content_type=content_type)
    response.set_etag(rendered.etag)
    if rendered.last_modified is not None:
        response.last_modified = rendered.last_modified
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    if localised:
        response.vary.add("Cookie")  # the chosen language lives in the session
    response.make_conditional(request)  # answers 304 in place when unchanged
    return response


def _default_language() -> str:
    return settings().babel_default_locale


def answer_from_cache(app: Flask) -> None:
    """Serve cookieless archive requests from stored answers ahead of the app."""
    app.wsgi_app = ArchiveAnswers(  # type: ignore[method-assign]
        app.wsgi_app,
        lambda: app.extensions.get("archive_pages"),
        lambda: app.extensions.get(SEARCH_PAGES),
    )


@bp.after_request
def private_when_setting_cookies(response: Response) -> Response:
    """A response that will carry a cookie (a restored editor login, a new language
    choice) must never be stored by a shared cache, whatever it shows."""
    if response.headers.get("Set-Cookie") or (
        current_app.session_interface.should_set_cookie(current_app, session)
    ):
        response.headers["Cache-Control"] = "private, no-store"
    return response


def _page_number() -> int:
    """The ?page= number asked for; anything but a plain small number is a 404."""
    asked = request.args.get("page", "1")
    if not asked.isascii() or not asked.isdigit() or len(asked) > 6:
        abort(404)
    return int(asked)


@bp.get("/")
def index() -> Response:
    """List published issues, newest first, ten a page; other pages are 404."""
    number = _page_number()

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
            neighbours=archive.neighbours(record),
            preview=False,
            corrections=corrections.for_issue(record.id),
            edition=pdf.edition(record.id),
        )

    return _respond(render, HTML)


# A worker builds a missing PDF within PDF_EVERY_SECONDS; ask again after that.
PDF_RETRY_SECONDS = 60


@bp.get("/archive/<slug>.pdf")
def issue_pdf(slug: str) -> Response:
    """Serve an issue's last built PDF edition; a request never builds one (while
    a corrected edition is being built, the previous one is served)."""
    record = archive.published_issue(slug)
    if record is None:
        abort(404)
    row = pdf.edition(record.id)
    path = pdf.file_path(row) if row is not None else None
    if row is None or path is None or not path.is_file():
        message = _("The PDF edition is being made")
        detail = _("Try again in a minute, or read the issue on the web.")
        body = render_template(
            "error.html",
            code=503,
            message=message,
            detail=detail,
            issue_url=url_for("archive.issue", slug=slug),
        )
        response = Response(body, 503, content_type=HTML)
        response.headers["Retry-After"] = str(PDF_RETRY_SECONDS)
        response.headers["Cache-Control"] = "no-store"
        return response
    response = send_file(
        path,
        mimetype="application/pdf",
        download_name=f"{record.slug}.pdf",
        as_attachment=False,
        etag=row.filename.partition(".")[0],
        last_modified=row.built_at,
        max_age=CACHE_SECONDS,
        conditional=True,
    )
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.headers["Content-Disposition"] = f'inline; filename="{record.slug}.pdf"'
    return response


@bp.get("/themes/<slug>")
def theme(slug: str) -> Response:
    """One theme's items across published issues, newest first, twenty a page."""
    number = _page_number()

    def render() -> str:
        record = archive.theme_by_slug(slug)
        page = None if record is None else archive.theme_page(record.id, number)
        if record is None or page is None:
            raise Missing(slug)
        return render_template(
            "archive/theme.html", theme=record, page=page, rows=page.rows
        )

    return _respond(render, HTML, variant=number)


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


def _theme_feed_rows(slug: str) -> tuple[Theme, list[tuple[Item, Issue]]]:
    """A theme's feed entries (raising Missing for an unknown slug)."""
    record = archive.theme_by_slug(slug)
    if record is None:
        raise Missing(slug)
    return record, archive.theme_items(record.id, limit=archive.FEED_SIZE)


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
        record, rows = _theme_feed_rows(slug)
        return _render_feed("feeds/theme.rss.xml", theme=record, rows=rows)

    return _respond(render, RSS, localised=False)


@bp.get("/feed.json")
def json_feed_of_issues() -> Response:
    """JSON Feed 1.1 of the issues, the same entries as RSS and Atom."""

    def render() -> str:
        with force_locale(settings().babel_default_locale):
            return json_feed.issues_feed(archive.latest_issues(), sections)

    return _respond(render, JSON_FEED, localised=False)


@bp.get("/themes/<slug>/feed.json")
def theme_json(slug: str) -> Response:
    """JSON Feed 1.1 of one theme's items."""

    def render() -> str:
        record, rows = _theme_feed_rows(slug)
        with force_locale(settings().babel_default_locale):
            return json_feed.theme_feed(record, rows)

    return _respond(render, JSON_FEED, localised=False)


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
    # The rendering is shared by every spelling of this search: the language
    # switch returns to the search itself, not to the first visitor's query.
    shown = {name: value for name, value in args.items() if value}
    if int(page_text) > 1:
        shown["page"] = str(int(page_text))
    g.current_path = request.path + ("?" + urlencode(shown) if shown else "")

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
            cache=_pages(SEARCH_PAGES, size=512),
            max_age=SEARCH_CACHE_SECONDS,
            by_query=True,
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
