"""The newsletter service: create_app builds a configured Flask application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from newsletter.config import load_config, settings, settings_of
from newsletter.request_limits import LimitedRequest

PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> str:
    """Locate templates/ or migrations/ in the installed package or the checkout."""
    installed = PACKAGE_DIR / name
    return str(installed if installed.is_dir() else PACKAGE_DIR.parent / name)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(
        __name__,
        template_folder=_resource_dir("templates"),
        instance_relative_config=True,
    )
    load_config(app, test_config)
    app.request_class = LimitedRequest

    from newsletter import api, cli, database, devmail, i18n, rate_limits, web
    from newsletter.archive import bp as archive_bp
    from newsletter.contribute import bp as contribute_bp
    from newsletter.editor import bp as editor_bp
    from newsletter.extensions import csrf, db, limiter, login_manager, migrate
    from newsletter.models.search import include_in_migrations
    from newsletter.models.types import render_migration_item
    from newsletter.subscribe import bp as subscribe_bp

    database.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=_resource_dir("migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
        include_object=include_in_migrations,
    )
    csrf.init_app(app)
    rate_limits.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)
    web.init_app(app)
    cli.init_app(app)

    app.register_blueprint(archive_bp)
    app.register_blueprint(editor_bp)
    app.register_blueprint(subscribe_bp)
    app.register_blueprint(contribute_bp)
    api.init_app(app)
    devmail.init_app(app)
    app.after_request(_security_headers)
    from newsletter.archive import answer_from_cache

    answer_from_cache(app)
    proxies = settings_of(app).proxy_fix_x_for
    if proxies:
        # Behind a reverse proxy: take the client address and scheme from it.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    return app


def _security_headers(response: Response) -> Response:
    """Add headers that keep pages from being framed, sniffed or scripted, and
    behind https, from being fetched over plain http."""
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    config = settings()
    max_age = config.hsts_max_age
    if max_age > 0 and config.base_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", f"max-age={max_age}")
    return response
