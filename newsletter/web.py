"""Template filters, error pages and the health check shared by every blueprint."""

from __future__ import annotations

import html as html_module
import math
import re
import sys
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import nh3
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, format_datetime, ngettext
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from jinja2 import select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.exc import DBAPIError
from werkzeug import exceptions
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from newsletter import labels
from newsletter.config import settings
from newsletter.content import markdown_as_text, render_markdown, shows_its_address
from newsletter.database import database_is_reachable, is_database_outage
from newsletter.errors import DomainError, NotFound
from newsletter.extensions import db, limiter
from newsletter.json_errors import is_api_request, json_error
from newsletter.models import IssueStatus, LinkOutcome, SubscriberStatus
from newsletter.models.types import utcnow
from newsletter.request_limits import too_large
from newsletter.services import links, media, workers
from newsletter.services.identity import (
    DEFAULT_BRAND_COLOUR,
    Identity,
    defaults,
    identity,
)
from newsletter.services.subscribers import display_address

# One way of writing times on every page, in both languages: no seconds, 24-hour
# clock, day before month (English would otherwise get "11/25/26, 3:59 PM").
DATETIME_PATTERNS = {"medium": "d MMM y HH:mm", "short": "y-MM-dd HH:mm"}


def _datetime(value: datetime | None, style: str = "medium") -> str:
    """Format a UTC datetime in Stockholm time and the visitor's language."""
    return format_datetime(value, DATETIME_PATTERNS[style]) if value else ""


def _date(value: datetime | None) -> str:
    """Format the date part of a UTC datetime in Stockholm time."""
    return format_date(value, "long") if value else ""


def plain_text(text: str | None, limit: int = 300) -> str:
    """Markdown as one line of plain text, shortened at a word, for summaries."""
    html = render_markdown(text or "")
    words = nh3.clean(str(html), tags=set()).split()
    plain = html_module.unescape(" ".join(words))
    if len(plain) <= limit:
        return plain
    return plain[:limit].rsplit(" ", 1)[0] + " …"


def first_words(text: str | None, count: int = 10) -> str:
    """The first words of Markdown as plain text, with an ellipsis if cut."""
    words = plain_text(text, limit=sys.maxsize).split()
    shown = " ".join(words[:count])
    return shown + " …" if len(words) > count else shown


def item_heading(item: Any) -> str:
    """An item's title, or the first words of its text when it has none."""
    return str(item.title or first_words(item.body))


def summary(issue: Any) -> str:
    """A plain summary of an issue: its preheader, introduction or item titles."""
    if issue.preheader:
        return issue.preheader
    if issue.intro:
        return plain_text(issue.intro)
    titles = [item.title for item in issue.items if item.title]
    return "; ".join(titles) or issue.title


def _markdown(text: str | None) -> Markup:
    """Render editor Markdown safely."""
    return render_markdown(text or "")


# The largest id a row can have (PostgreSQL's integer): larger numbers in a URL are
# simply not found, instead of overflowing the database driver.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a positive whole number no larger than a row id."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def _error_page(error: HTTPException) -> tuple[str, int] | Response:
    """Render a friendly page for HTTP errors in the visitor's language (JSON for
    the API)."""
    code = error.code or 500
    messages = {
        400: _("The request could not be understood. Reload the page and try again."),
        403: _("You do not have permission to open this page."),
        404: _("The page could not be found."),
        405: _("This address does not accept that kind of request."),
        409: _("Something has changed in the meantime. Reload the page and try again."),
        429: _("Too many attempts. Wait a moment and try again."),
    }
    message = messages.get(code, _("Something went wrong on our side."))
    if code == 413:
        message = too_large()  # names the limit that applied
    if is_api_request():
        # A 405 says which methods the address takes.
        kept = {k: v for k, v in error.get_headers() if k == "Allow"}
        return json_error(code, message, headers=kept)
    return render_template("error.html", code=code, message=message), code


def _domain_error_page(error: DomainError) -> tuple[str, int] | Response:
    """Answer a domain error no view handled: NotFound as 404, any other as 409."""
    db.session.rollback()  # the page must not run queries in a failed transaction
    if isinstance(error, NotFound):
        return _error_page(exceptions.NotFound())
    return _error_page(exceptions.Conflict())


def answer_domain_errors(blueprint: Blueprint) -> None:
    """Let a blueprint answer the domain errors of the services its views call."""
    blueprint.register_error_handler(DomainError, _domain_error_page)


def _too_many_attempts(error: HTTPException) -> Response:
    """The error page for a rate limit, with Retry-After saying when it lifts."""
    limit = limiter.current_limit
    lifts = limit.window.reset_time if limit is not None else time.time() + 60
    seconds = max(1, math.ceil(lifts - time.time()))
    message = _("Too many attempts. Wait a moment and try again.")
    detail = _("You can try again in %(wait)s.", wait=_wait(seconds))
    if is_api_request():
        return json_error(
            429, f"{message} {detail}", headers={"Retry-After": str(seconds)}
        )
    body = render_template("error.html", code=429, message=message, detail=detail)
    response = make_response(body, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _wait(seconds: int) -> str:
    """A wait in whole seconds under a minute, else in whole minutes, rounded up."""
    if seconds < 60:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    return ngettext("%(num)d minute", "%(num)d minutes", math.ceil(seconds / 60))


# Pages answered while the database is down ask clients to come back after this.
RETRY_AFTER_SECONDS = 60


def _database_unavailable(error: DBAPIError) -> Response:
    """Answer 503 with a short page when the database cannot be reached. The page is
    rendered straight from its template, without context processors, so that
    nothing (the logged-in editor, the banner) touches the database again."""
    if not is_database_outage(error):
        raise error  # a fault, not an outage: the ordinary 500
    current_app.logger.warning("database unreachable: %s", str(error).splitlines()[0])
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone already
        pass
    if is_api_request():
        return json_error(
            503,
            _("Something went wrong on our side."),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    editor = (request.blueprint or "").startswith("editor")
    page = current_app.jinja_env.get_template("unavailable.html").render(
        editor=editor,
        site_name=settings().site_name,
        stylesheet=url_for("static", filename="style.css"),
    )
    response = make_response(page, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_identity() -> Identity:
    """The identity for a page; the environment's during a database outage, so
    that an error page still renders."""
    try:
        return identity()
    except DBAPIError as error:
        if not is_database_outage(error):
            raise
        db.session.rollback()
        return defaults()


def _darker(colour: str, share: float = 0.25) -> str:
    """A "#rrggbb" colour mixed with some black, for hovered links."""
    channels = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * (1 - share)):02x}" for c in channels)


def _brand_stylesheet() -> Response:
    """Answer with the custom properties of the current brand colour."""
    colour = identity().brand_colour
    body = f":root {{ --brand: {colour}; --brand-dark: {_darker(colour)}; }}\n"
    response = make_response(body)
    response.mimetype = "text/css"
    if request.args.get("v") == colour.lstrip("#"):
        response.cache_control.public = True
        response.cache_control.max_age = 31536000
    else:
        response.cache_control.no_cache = True
    return response


def _health() -> tuple[dict[str, object], int]:
    """Report the database, and when a worker was last seen (a missing worker is
    reported, not a failed check: the web process itself is fine)."""
    if not database_is_reachable():
        return {"status": "database unreachable", "database": "unreachable"}, 503
    try:
        seen = workers.last_seen()
    except DBAPIError:
        db.session.rollback()
        seen = None
    age = None if seen is None else max(0, int((utcnow() - seen).total_seconds()))
    return {
        "status": "ok",
        "database": "ok",
        "worker_seen_at": seen.isoformat() if seen else None,
        "worker_age_seconds": age,
    }, 200


def _refuse_nul_bytes() -> None:
    """Refuse input with NUL bytes: no text column (PostgreSQL) can store them."""
    if "\x00" in request.path or any(
        "\x00" in value
        for source in (request.args, request.form)
        for values in source.listvalues()
        for value in values
    ):
        abort(400)


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    """Explain a missing or stale form token instead of a bare 400."""
    message = _(
        "The form had expired or was sent from elsewhere, so nothing was saved. "
        "Go back, reload the page and send the form again."
    )
    return render_template("error.html", code=400, message=message), 400


def tel_href(phone: str) -> str:
    """Turn a written phone number into a tel: target (+46 (0)10-12 → +4610 12)."""
    number = phone.replace("(0)", "")
    plus = "+" if number.strip().startswith("+") else ""
    return "tel:" + plus + "".join(ch for ch in number if ch.isdigit())


# In free contact text: an email address, or a phone number of at least six digits
# written with spaces, dashes, parentheses and a leading +.
CONTACT_PART = re.compile(
    r"(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<phone>\+?\d[\d ()-]{4,}\d)"
)


def lines(text: str | None) -> Markup:
    """Plain text with its line breaks kept, escaped."""
    return Markup("<br>\n").join(escape(line) for line in (text or "").splitlines())


def contact_links(text: str | None) -> Markup:
    """Free contact text, escaped, its email addresses and phone numbers linked."""

    def linked(line: str) -> Markup:
        out = Markup()
        position = 0
        for match in CONTACT_PART.finditer(line):
            found = match.group(0)
            if match.group("phone") and sum(c.isdigit() for c in found) < 6:
                continue
            href = tel_href(found) if match.group("phone") else f"mailto:{found}"
            out += escape(line[position : match.start()])
            out += Markup('<a href="{}">{}</a>').format(href, found)
            position = match.end()
        return out + escape(line[position:])

    return Markup("<br>\n").join(linked(line) for line in (text or "").splitlines())


def media_url(name: str) -> str:
    """The absolute address of a stored image variant, for emails and feeds."""
    return f"{settings().base_url}/media/{name}"


# host, host:port or [IPv6]:port; anything else is left out of a policy.
ORIGIN_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def site_origin() -> str:
    """The origin (scheme://host:port) of BASE_URL, or "" when it is not a web one."""
    parts = urlsplit(settings().base_url)
    host = parts.netloc.rpartition("@")[2]
    if parts.scheme not in ("http", "https") or not ORIGIN_HOST.fullmatch(host):
        return ""
    return f"{parts.scheme}://{host}".lower()


def email_frame_policy() -> str:
    """The Content-Security-Policy of a frame showing an email: no scripts, forms or
    base address; images inline, over https, or from this site, whose /media/
    addresses the email holds and which is plain http in a local trial."""
    images = " ".join(filter(None, ["'self'", site_origin(), "https:", "data:"]))
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )


def init_app(app: Flask) -> None:
    """Register filters, globals, error pages and /healthz."""
    app.before_request(_refuse_nul_bytes)
    app.register_error_handler(CSRFError, _csrf_error)
    app.url_map.converters["int"] = RowIdConverter
    app.jinja_env.filters["tel"] = tel_href
    app.jinja_env.filters["lines"] = lines
    app.jinja_env.filters["contact_links"] = contact_links
    app.jinja_env.globals["default_brand_colour"] = DEFAULT_BRAND_COLOUR
    app.jinja_env.filters["address"] = display_address
    app.jinja_env.filters["plain_text"] = plain_text
    app.jinja_env.tests["shows_its_address"] = shows_its_address
    app.jinja_env.filters["summary"] = summary
    app.jinja_env.filters["link_reason"] = links.reason_text
    app.jinja_env.filters["item_heading"] = item_heading
    app.jinja_env.globals["item_picture"] = media.picture
    app.jinja_env.globals["media_url"] = media_url
    # Email bodies are MJML (XML): escape editor text there as in HTML pages.
    app.jinja_env.autoescape = select_autoescape(
        ["html", "htm", "xml", "mjml"], default_for_string=True
    )
    app.jinja_env.filters["datetime"] = _datetime
    app.jinja_env.filters["date"] = _date
    app.jinja_env.filters["markdown"] = _markdown
    app.jinja_env.filters["markdown_text"] = markdown_as_text
    app.jinja_env.filters["status_label"] = labels.status_label
    app.jinja_env.filters["role_label"] = labels.role_label
    app.jinja_env.filters["proposal_status"] = labels.proposal_status
    app.jinja_env.filters["subscriber_status"] = labels.subscriber_status
    app.jinja_env.filters["consent_kind"] = labels.consent_kind
    app.jinja_env.filters["bounce_kind"] = labels.bounce_kind
    app.jinja_env.filters["delivery_status"] = labels.delivery_status
    app.jinja_env.filters["consent_how"] = labels.consent_how
    app.jinja_env.filters["language_name"] = labels.language_name
    app.jinja_env.filters["delivery_error"] = labels.delivery_error
    # Templates compare statuses with the enums, never with bare strings.
    app.jinja_env.globals["IssueStatus"] = IssueStatus
    app.jinja_env.globals["SubscriberStatus"] = SubscriberStatus
    app.jinja_env.globals["LinkOutcome"] = LinkOutcome
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(429, _too_many_attempts)
    app.register_error_handler(DBAPIError, _database_unavailable)

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, object], int]:
        """Report whether the app can reach its database, and the newest worker."""
        return _health()

    @app.get("/brand.css")
    def brand_css() -> Response:
        """The brand colour as a stylesheet (pages allow no inline styles); its
        address carries the colour, so it can be cached for a year."""
        return _brand_stylesheet()

    @app.context_processor
    def page_context() -> dict[str, object]:
        """Expose the identity, the site name and the current path to every
        template."""
        current = _page_identity()
        return {
            "identity": current,
            "site_name": current.newsletter_name,
            "organisation": current.organisation,
            "current_path": g.get("current_path")
            or (request.full_path.rstrip("?") if request else "/"),
        }
