"""Configuration: code defaults, then NEWSLETTER_* environment variables, then tests."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from argon2 import Parameters, profiles
from flask import Config, Flask

ENV_PREFIX = "NEWSLETTER_"

DEFAULTS: dict[str, Any] = {
    # "production" requires an explicit SECRET_KEY; "development" makes one up.
    "ENV": "production",
    "SECRET_KEY": None,
    "SQLALCHEMY_DATABASE_URI": None,  # None: SQLite file in the instance folder
    "BASE_URL": "http://127.0.0.1:5000",
    "SITE_NAME": "Nyhetsbrev",
    "ORGANISATION": "Regional samverkan",
    "MAIL_FROM": "Nyhetsbrevet <nyhetsbrev@example.se>",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": 8025,
    "SMTP_SECURITY": "none",
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_CONNECTIONS": 1,
    "SMTP_TIMEOUT": 30,
    "RATE_PER_SECOND": 0.0,
    "RATE_PER_HOUR": 0,
    "RETURN_PATH": None,  # envelope sender for bounces; default: MAIL_FROM's address
    "LIST_UNSUBSCRIBE_MAILTO": None,  # an address whose mail you process, if any
    "WORKER_BATCH_SIZE": 200,
    "WORKER_LEASE_SECONDS": 300,
    "WORKER_IDLE_SECONDS": 2.0,
    "WORKER_RECORD_EVERY": 50,  # outcomes written per commit while sending
    "MAX_ATTEMPTS": 8,
    "RETRY_BASE_SECONDS": 60.0,
    "RETRY_MAX_SECONDS": 3600.0,
    "BOUNCE_LIMIT": 3,  # permanent failures before a subscriber counts as bounced
    "MAILBOX_PATH": None,  # development: Maildir of the local mail catcher
    "SIGNUP_RATE_LIMIT": "5 per minute; 30 per hour",  # per client IP
    "CONFIRM_EMAIL_INTERVAL_MINUTES": 15,  # per address
    "CONFIRM_EMAILS_PER_DAY": 3,  # per address
    "PENDING_DAYS": 30,
    # Archive pages and feeds are re-checked against the database at most this often.
    "ARCHIVE_STAMP_SECONDS": 1.0,
    # Feed import may fetch private, loopback and link-local addresses (tests only).
    "FEED_IMPORT_ALLOW_PRIVATE": False,  # unconfirmed sign-ups are deleted after this
    "DKIM_DOMAIN": None,
    "DKIM_SELECTOR": None,
    "DKIM_PRIVATE_KEY_PATH": None,
    "RATELIMIT_STORAGE_URI": "memory://",
    "LOGIN_RATE_LIMIT": "10 per minute",  # per client IP
    "LOGIN_ACCOUNT_RATE_LIMIT": "30 per hour",  # per account and client IP together
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,  # None: follows whether BASE_URL is https
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # Sent when BASE_URL is https: browsers then use only https for a year (0: none).
    "HSTS_MAX_AGE": 365 * 24 * 3600,
    # Tokens live as long as the session: an editor may keep a form open for days.
    "WTF_CSRF_TIME_LIMIT": None,
    "REMEMBER_COOKIE_DURATION": 14 * 24 * 3600,
    "PROXY_FIX_X_FOR": 0,  # number of reverse proxies in front (0: none)
    "BABEL_DEFAULT_LOCALE": "sv",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Stockholm",
    "LANGUAGES": ["sv", "en"],
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,  # any request body
    "IMPORT_MAX_BYTES": 20 * 1024 * 1024,  # a subscriber CSV file
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Argon2 parameters of new password hashes, an argon2-cffi profile name (older
    # hashes are redone at the next login). CHEAPEST is for test suites only.
    "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int | float)} | {
    "SMTP_PORT",
    "SMTP_CONNECTIONS",
}


_BOOL_KEYS = {
    "SESSION_COOKIE_SECURE",
    "REMEMBER_COOKIE_SECURE",
    "RATELIMIT_ENABLED",
    "TESTING",
}


class ConfigError(RuntimeError):
    """A configuration value is missing or invalid."""


def _from_environment(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Read NEWSLETTER_<KEY> variables, converting numbers and booleans."""
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name.removeprefix(ENV_PREFIX)
        default = DEFAULTS.get(key)
        if isinstance(default, bool) or key in _BOOL_KEYS:
            values[key] = raw.strip().lower() in {"1", "true", "yes", "on"}
        elif key in _INT_KEYS:
            try:
                values[key] = float(raw) if isinstance(default, float) else int(raw)
            except ValueError as exc:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
        elif isinstance(default, list | dict):
            values[key] = json.loads(raw)
        else:
            values[key] = raw
    return values


def _development_secret(app: Flask) -> str:
    """Return a per-checkout secret kept in the instance folder."""
    path = Path(app.instance_path) / "dev-secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _host_bound_cookie_names(config: Config) -> None:
    """Name secure login cookies with the __Host- prefix: browsers then take them only
    from this host over https, so a neighbouring subdomain cannot plant or replace
    them. Names set explicitly stay; a cookie with a domain or sub-path cannot."""
    session_path = config.get("SESSION_COOKIE_PATH") or config["APPLICATION_ROOT"]
    if (
        config["SESSION_COOKIE_SECURE"]
        and config["SESSION_COOKIE_NAME"] == "session"
        and not config.get("SESSION_COOKIE_DOMAIN")
        and session_path == "/"
    ):
        config["SESSION_COOKIE_NAME"] = "__Host-session"
    if (
        config["REMEMBER_COOKIE_SECURE"]
        and not config.get("REMEMBER_COOKIE_DOMAIN")
        and config.get("REMEMBER_COOKIE_PATH", "/") == "/"
    ):
        config.setdefault("REMEMBER_COOKIE_NAME", "__Host-remember_token")


def _check_password_hash_profile(app: Flask) -> None:
    """Refuse an unknown Argon2 profile, and the cheapest one outside tests."""
    profile = app.config["PASSWORD_HASH_PROFILE"]
    if not isinstance(getattr(profiles, str(profile), None), Parameters):
        names = ", ".join(n for n in dir(profiles) if n.isupper())
        raise ConfigError(f"NEWSLETTER_PASSWORD_HASH_PROFILE must be one of {names}")
    if profile == "CHEAPEST" and not app.testing:
        raise ConfigError(
            "NEWSLETTER_PASSWORD_HASH_PROFILE=CHEAPEST makes passwords easy to crack; "
            "it is allowed only with TESTING"
        )


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config from defaults, the environment and the test mapping."""
    app.config.from_mapping(DEFAULTS)
    app.config.update(_from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    if app.config["SQLALCHEMY_DATABASE_URI"] is None:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        db_path = Path(app.instance_path) / "newsletter.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    if not app.config["SECRET_KEY"]:
        if app.config["ENV"] == "development" or app.testing:
            app.config["SECRET_KEY"] = _development_secret(app)
        else:
            raise ConfigError(
                "NEWSLETTER_SECRET_KEY is not set. Set it to a long random value, "
                'e.g. python -c "import secrets; print(secrets.token_hex(32))", '
                "or set NEWSLETTER_ENV=development for a local trial."
            )
    if app.config["ENV"] == "development" and not app.config["MAILBOX_PATH"]:
        app.config["MAILBOX_PATH"] = str(Path(app.instance_path) / "maildir")
    if app.config["SESSION_COOKIE_SECURE"] is None:
        secure = str(app.config["BASE_URL"]).startswith("https://")
        app.config["SESSION_COOKIE_SECURE"] = secure
    if app.config.get("REMEMBER_COOKIE_SECURE") is None:
        app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    _host_bound_cookie_names(app.config)
    if app.config["SMTP_SECURITY"] not in {"none", "starttls", "tls"}:
        raise ConfigError("NEWSLETTER_SMTP_SECURITY must be none, starttls or tls")
    _check_password_hash_profile(app)
    app.config["BASE_URL"] = str(app.config["BASE_URL"]).rstrip("/")
