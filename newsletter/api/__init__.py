"""The JSON API for other sites: sign-up, the public archive, figures for key holders.

It takes no cookies: the session is never opened for /api (see CookielessApi), so
a page elsewhere cannot act with an editor's login, and the API needs no CSRF token.
Its sign-up POST takes only application/json, which no HTML form can send, and only
from the origins in API_CORS_ORIGINS when it comes from a browser.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    g,
    jsonify,
    request,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from newsletter import consent_text
from newsletter.api import cors, representations
from newsletter.api.openapi import DESCRIPTION
from newsletter.api.signup import Invalid, read_sign_up
from newsletter.archive import Missing, _respond
from newsletter.config import settings
from newsletter.extensions import csrf, db, limiter, login_manager
from newsletter.i18n import show_in
from newsletter.json_errors import PREFIX, json_error
from newsletter.models import SubscriberStatus
from newsletter.models.types import utcnow
from newsletter.services import api_keys, archive, corrections, subscribers, themes
from newsletter.services import subscriptions as subscription_service
from newsletter.services.issues import sections
from newsletter.services.subscriptions import Origin

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Every route here is JSON without cookies; no form of ours posts here.
csrf.exempt(bp)

JSON = "application/json"
# A sign-up is a few hundred bytes; anything much larger is not one.
MAX_BODY = 16 * 1024
# Endpoints any page anywhere may read (public data, no credentials).
PUBLIC = {
    "api.issues",
    "api.issue",
    "api.themes_list",
    "api.consent",
    "api.openapi",
}


class CookielessApi(SecureCookieSessionInterface):
    """The app's cookie session, except that requests to the API get none: their
    cookies are never read, and no Set-Cookie or Vary: Cookie is ever sent."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Open no session (Flask then uses a null session) for the API."""
        if request.path.startswith(PREFIX):
            return None
        return super().open_session(app, request)


def _public() -> bool:
    return request.endpoint in PUBLIC


@bp.before_request
def no_login_and_preflight() -> Response | None:
    """Act as nobody (a remember-me cookie must not log anyone in here), speak the
    caller's language, and answer CORS preflights."""
    g._login_user = login_manager.anonymous_user()  # Flask-Login's slot for it
    show_in(
        request.accept_languages.best_match(settings().languages)
        or settings().babel_default_locale
    )
    if cors.is_preflight(request):
        return cors.answer_preflight(request, _public())
    return None


@bp.after_request
def cross_origin_headers(response: Response) -> Response:
    """Add the CORS headers the route's kind allows."""
    if not cors.is_preflight(request):
        cors.add_headers(request, response, _public())
    return response


def _signup_limit() -> str:
    return settings().signup_rate_limit


def _json_body() -> dict[str, Any] | Response:
    """The request's JSON object, or the error answer to send instead."""
    if request.mimetype != JSON:
        return json_error(415, _("Send the sign-up as application/json."))
    too_large = _("What you sent is too large: at most %(size)s.", size="16 kB")
    if (request.content_length or 0) > MAX_BODY:
        return json_error(413, too_large)
    request.max_content_length = MAX_BODY
    try:
        payload = json.loads(request.get_data())
    except RequestEntityTooLarge:
        return json_error(413, too_large)
    except ValueError:  # not UTF-8, or not JSON
        return json_error(400, _("The body is not valid JSON."))
    if not isinstance(payload, dict):
        return json_error(400, _("The body must be a JSON object."))
    return payload


@bp.post("/subscriptions")
@limiter.limit(_signup_limit, methods=["POST"])
def create_subscription() -> Response | tuple[Response, int]:
    """Start the double opt-in, answering the same for every address."""
    origin = request.headers.get("Origin")
    if origin is not None and not cors.listed(origin):
        return json_error(
            403, _("Pages of %(origin)s may not call this address.", origin=origin)
        )
    payload = _json_body()
    if isinstance(payload, Response):
        return payload
    if payload.get("language") in settings().languages:
        show_in(str(payload["language"]))
    try:
        sign_up = read_sign_up(payload)
    except Invalid as invalid:
        return json_error(422, _("Some fields need fixing."), invalid.fields)
    subscription_service.request_subscription(
        sign_up.email,
        sign_up.name,
        sign_up.theme_ids,
        sign_up.language,
        Origin(
            ip=request.remote_addr or "",
            user_agent=request.user_agent.string or "",
            how=f"API {origin}" if origin else "API",
        ),
        utcnow(),
    )
    db.session.commit()
    message = _(
        "If the address can be signed up, a confirmation email is on its way: the "
        "subscription starts when its link is used."
    )
    response = jsonify({"status": "accepted", "message": message})
    response.headers["Cache-Control"] = "no-store"
    return response, 202


@bp.get("/consent-text")
def consent() -> Response:
    """The consent statement a calling site must show beside its sign-up form."""
    language = request.args.get("language", settings().babel_default_locale)
    if language not in settings().languages:
        abort(404)
    response = jsonify(
        {
            "version": consent_text.VERSION,
            "language": language,
            "text": consent_text.consent_text(language),
        }
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@bp.get("/issues")
def issues() -> Response:
    """Published issues, newest first, ten a page, with links to other pages."""
    asked = request.args.get("page", "1")
    if not asked.isascii() or not asked.isdigit() or len(asked) > 6:
        abort(404)
    number = int(asked)

    def render() -> str:
        page = archive.index_page(number)
        if page is None:
            raise Missing(number)
        return _json(representations.issue_page(page))

    return _respond(render, JSON, variant=number, localised=False)


@bp.get("/issues/<slug>")
def issue(slug: str) -> Response:
    """One published issue: its themes, items (sanitised HTML) and corrections."""

    def render() -> str:
        record = archive.published_issue(slug)
        if record is None:
            raise Missing(slug)
        return _json(
            representations.issue(
                record, sections(record), corrections.for_issue(record.id)
            )
        )

    return _respond(render, JSON, localised=False)


@bp.get("/themes")
def themes_list() -> Response:
    """Every theme, in display order; active ones can be subscribed to."""

    def render() -> str:
        rows = themes.list_themes()
        return _json({"themes": [representations.theme(t) for t in rows]})

    return _respond(render, JSON, localised=False)


@bp.get("/stats")
def stats() -> Response:
    """Subscriber figures for the holder of an API key; no personal data."""
    scheme, _space, key = request.headers.get("Authorization", "").partition(" ")
    holder = None
    if scheme.lower() == "bearer" and key.strip():
        holder = api_keys.authenticate(key.strip(), utcnow())
    if holder is None:
        db.session.rollback()
        return json_error(
            401,
            _("Send a valid API key as Authorization: Bearer <key>."),
            headers={"WWW-Authenticate": 'Bearer realm="newsletter"'},
        )
    db.session.commit()  # the key's time of last use, at most once a minute
    counts = subscribers.confirmed_per_theme()
    response = jsonify(
        {
            "confirmed_subscribers": subscribers.count_by_status().get(
                SubscriberStatus.CONFIRMED, 0
            ),
            "themes": [
                {"slug": slug, "name": name, "confirmed_subscribers": count}
                for slug, name, count in counts
            ],
            "generated_at": utcnow().isoformat(),
        }
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3.1 description."""
    response = jsonify(DESCRIPTION)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def init_app(app: Flask) -> None:
    """Register the API, and keep the session out of it."""
    app.session_interface = CookielessApi()
    app.register_blueprint(bp)
