"""The public side: the archive of published issues, theme pages and feeds."""

from __future__ import annotations

from email.utils import format_datetime

from flask import Blueprint, Response, abort, current_app, render_template, request

from newsletter.models.types import utcnow
from newsletter.services import archive
from newsletter.services.issues import sections

bp = Blueprint("archive", __name__)

CACHE_SECONDS = 300


HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


def _conditional(body: str, content_type: str, parts: list[object]) -> Response:
    """Answer with ETag and Last-Modified, or 304 when the client is up to date."""
    etag, modified = archive.validator(parts)
    response = Response(body, content_type=content_type)
    response.set_etag(etag)
    if modified is not None:
        response.last_modified = modified
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response.make_conditional(request)


def _stamp(issue: object) -> list[object]:
    """What changes a page about an issue: its id, version and times."""
    return [issue.id, issue.version, issue.published_at, issue.updated_at]  # type: ignore[attr-defined]


@bp.get("/")
def index() -> Response:
    """List published issues, newest first, ten a page."""
    page = archive.index_page(min(request.args.get("page", 1, type=int), 10**6))
    parts: list[object] = [page.number, page.pages]
    for issue in page.issues:
        parts += _stamp(issue)
    html = render_template("archive/index.html", page=page, issues=page.issues)
    return _conditional(html, HTML, parts)


@bp.get("/archive/<slug>")
def issue(slug: str) -> Response:
    """Show one published issue with all its themes."""
    record = archive.published_issue(slug)
    if record is None:
        abort(404)
    html = render_template(
        "public/issue.html", issue=record, sections=sections(record), preview=False
    )
    return _conditional(html, HTML, _stamp(record))


@bp.get("/themes/<slug>")
def theme(slug: str) -> Response:
    """One theme's items across published issues."""
    record = archive.theme_by_slug(slug)
    if record is None:
        abort(404)
    rows = archive.theme_items(record.id)
    parts: list[object] = [record.name, record.description]
    for item, issue in rows:
        parts += [item.id, item.version, *_stamp(issue)]
    html = render_template("archive/theme.html", theme=record, rows=rows)
    return _conditional(html, HTML, parts)


def _feed_context() -> dict[str, object]:
    base = current_app.config["BASE_URL"]
    return {"base": base, "rfc822": format_datetime, "now": utcnow}


@bp.get("/feed.xml")
def rss() -> Response:
    """RSS 2.0 of the issues, full content plus a plain summary."""
    issues = archive.latest_issues()
    body = render_template(
        "feeds/issues.rss.xml",
        issues=issues,
        sections=sections,
        **_feed_context(),
    )
    parts = [part for issue in issues for part in _stamp(issue)]
    return _conditional(body, RSS, parts)


@bp.get("/feed.atom")
def atom() -> Response:
    """Atom 1.0 of the issues."""
    issues = archive.latest_issues()
    body = render_template(
        "feeds/issues.atom.xml",
        issues=issues,
        sections=sections,
        **_feed_context(),
    )
    parts = [part for issue in issues for part in _stamp(issue)]
    return _conditional(body, ATOM, parts)


@bp.get("/themes/<slug>/feed.xml")
def theme_rss(slug: str) -> Response:
    """RSS 2.0 of one theme's items."""
    record = archive.theme_by_slug(slug)
    if record is None:
        abort(404)
    rows = archive.theme_items(record.id, limit=archive.FEED_SIZE)
    body = render_template(
        "feeds/theme.rss.xml", theme=record, rows=rows, **_feed_context()
    )
    parts: list[object] = [record.name]
    for item, issue in rows:
        parts += [item.id, item.version, *_stamp(issue)]
    return _conditional(body, RSS, parts)
