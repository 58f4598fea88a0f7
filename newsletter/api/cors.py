"""Cross-origin rules of the API, written out rather than left to Flask-Cors.

Two kinds of route: the public archive (any page anywhere may read it, with no
credentials: `Access-Control-Allow-Origin: *`) and the rest (sign-up, stats), which
only the origins in API_CORS_ORIGINS may call from a browser. Flask-Cors answers a
preflight from any other origin with 200 and simply leaves the headers out; we refuse
it with 403 and a JSON reason, and a sign-up POST carrying a foreign Origin header is
refused before anything is stored (a browser sends such a POST without a preflight
when its content type is a "simple" one).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Request, Response, current_app
from flask_babel import gettext as _

from newsletter.config import parse_cors_origins, settings
from newsletter.json_errors import json_error

# How long a browser may reuse an answered preflight.
PREFLIGHT_MAX_AGE = 600
PUBLIC_HEADERS = "If-None-Match, If-Modified-Since"
LISTED_HEADERS = "Content-Type, Authorization"
EXPOSED_HEADERS = "ETag, Last-Modified, Retry-After"


def own_origin() -> str:
    """This site's own origin, from BASE_URL."""
    parts = urlsplit(settings().base_url)
    return parse_cors_origins(f"{parts.scheme}://{parts.netloc}")[0]


def listed(origin: str) -> bool:
    """Whether pages of origin may call the API's non-public routes."""
    return origin in settings().cors_origins() or origin == own_origin()


def is_preflight(request: Request) -> bool:
    """Whether the request is a browser's CORS preflight."""
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def _methods(request: Request) -> set[str]:
    """The methods the matched route takes."""
    rule = request.url_rule
    return set(rule.methods or ()) - {"OPTIONS", "HEAD"} if rule else set()


def answer_preflight(request: Request, public: bool) -> Response:
    """Allow a preflight from a listed origin (any origin for public routes) for a
    method the route takes; refuse anything else with 403 and no CORS headers."""
    origin = request.headers["Origin"]
    method = request.headers["Access-Control-Request-Method"].upper()
    if not public and not listed(origin):
        return json_error(
            403,
            _("Pages of %(origin)s may not call this address.", origin=origin),
        )
    if method not in _methods(request):
        return json_error(405, _("This address does not accept that kind of request."))
    response = current_app.response_class(status=204)
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = "*" if public else origin
    headers["Access-Control-Allow-Methods"] = ", ".join(sorted(_methods(request)))
    headers["Access-Control-Allow-Headers"] = (
        PUBLIC_HEADERS if public else LISTED_HEADERS
    )
    headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    headers["Cache-Control"] = "no-store"
    if not public:
        response.vary.add("Origin")
    return response


def add_headers(request: Request, response: Response, public: bool) -> Response:
    """Let the calling page read the answer (errors too: a 422 or 429 must reach
    the site's script) when its origin may."""
    origin = request.headers.get("Origin")
    if public:
        response.headers["Access-Control-Allow-Origin"] = "*"
    else:
        response.vary.add("Origin")
        if origin is None or not listed(origin):
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response
