"""Languages: Swedish by default, English on request; times in Europe/Stockholm."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    g,
    has_request_context,
    redirect,
    request,
    session,
)
from flask_babel import get_locale, refresh
from werkzeug.wrappers import Response

from newsletter.config import settings
from newsletter.extensions import babel, csrf

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """Return the visitor's chosen language, else the language of the subscriber a
    personal link belongs to, else the default (Swedish)."""
    if has_request_context():
        for chosen in (session.get("lang"), g.get("page_language")):
            if chosen in settings().languages:
                return str(chosen)
    return settings().babel_default_locale


def show_in(language: str) -> None:
    """Show this request's page in a subscriber's language (a personal link), unless
    the visitor chose a language with the switch."""
    g.page_language = language
    refresh()


@bp.post("/language")
@csrf.exempt  # only the display language changes; public pages stay cacheable
def set_language() -> Response:
    """Remember the visitor's language choice and go back to where they were."""
    lang = request.form.get("lang", "")
    if lang in settings().languages:
        session["lang"] = lang
    return redirect(local_path(request.form.get("next", "/")))


def local_path(target: str) -> str:
    """Return target if it is a path on this site, else "/". Browsers drop tabs and
    newlines and read a backslash as a slash, so a path made of "/", a tab and
    "/evil.example" leaves the site: anything with such characters is refused."""
    if any(ord(char) < 33 or char in "\\\x7f" for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return "/"
    return "/" if target.startswith("//") else target


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with our locale selector and the language switch."""
    from newsletter import PACKAGE_DIR

    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PACKAGE_DIR / "translations"),
    )
    app.register_blueprint(bp)
    app.jinja_env.globals["current_language"] = lambda: str(get_locale())
