"""Configuration: code defaults, then NEWSLETTER_* environment variables, then tests."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import idna
from argon2 import Parameters, profiles
from flask import Config, Flask, current_app

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
    # Per-domain limits for all workers together: "gmail.com=20/s; outlook.com=10/s".
    "DOMAIN_RATE_LIMITS": "",
    "RETURN_PATH": None,  # envelope sender for bounces; default: MAIL_FROM's address
    "LIST_UNSUBSCRIBE_MAILTO": None,  # an address whose mail you process, if any
    "WORKER_BATCH_SIZE": 200,
    "WORKER_LEASE_SECONDS": 300,
    "WORKER_IDLE_SECONDS": 2.0,
    "WORKER_RECORD_EVERY": 50,  # outcomes written per commit while sending
    # Database or SMTP outage: retry after 1 s, doubling up to this many seconds.
    "WORKER_MAX_BACKOFF_SECONDS": 30.0,
    "MAX_ATTEMPTS": 8,
    "RETRY_BASE_SECONDS": 60.0,
    "RETRY_MAX_SECONDS": 3600.0,
    "BOUNCE_LIMIT": 3,  # soft bounces within the window that mark a subscriber bounced
    "BOUNCE_WINDOW_DAYS": 30,  # how long a soft bounce counts
    "BOUNCE_MAILBOX_URL": None,  # imaps://user:password@host/INBOX, polled by workers
    "BOUNCE_MAILBOX_POLL_SECONDS": 60.0,
    "MAILBOX_PATH": None,  # development: Maildir of the local mail catcher
    "SIGNUP_RATE_LIMIT": "5 per minute; 30 per hour",  # per client IP
    "CONFIRM_EMAIL_INTERVAL_MINUTES": 15,  # per address
    "CONFIRM_EMAILS_PER_DAY": 3,  # per address
    "PENDING_DAYS": 30,  # unconfirmed sign-ups are deleted after this many days
    # Archive pages and feeds are re-checked against the database at most this often.
    "ARCHIVE_STAMP_SECONDS": 1.0,
    # The guarded fetcher (feed import, link checks) may reach private, loopback and
    # link-local addresses (tests only). FEED_IMPORT_ALLOW_PRIVATE is a synonym.
    "OUTBOUND_ALLOW_PRIVATE": False,
    "FEED_IMPORT_ALLOW_PRIVATE": False,
    "LINK_CHECK_TIMEOUT": 10.0,  # seconds for one link, redirects included
    "LINK_CHECK_PER_HOST": 2,  # links of one host checked at the same time
    # How often a worker looks for links to check (0: workers check none).
    "LINK_CHECK_EVERY_SECONDS": 60.0,
    # How often a worker looks for PDF editions to build; 0: workers build none.
    "PDF_EVERY_SECONDS": 30.0,
    # How often a worker removes stored media that nothing refers to; 0: never.
    "MEDIA_PURGE_EVERY_SECONDS": 86400.0,
    # Partners with an open contribution link are reminded once per issue when its
    # deadline is this many days away or nearer (0: no reminders).
    "CONTRIBUTION_REMINDER_DAYS": 7,
    # How often a worker looks for reminders to send (0: every round of its loop).
    "CONTRIBUTION_REMINDER_EVERY_SECONDS": 3600.0,
    "DKIM_DOMAIN": None,
    "DKIM_SELECTOR": None,
    "DKIM_PRIVATE_KEY_PATH": None,  # RSA, PEM
    "DKIM_ED25519_SELECTOR": None,  # a second signature, Ed25519 (RFC 8463)
    "DKIM_ED25519_PRIVATE_KEY_PATH": None,  # PKCS#8 PEM
    # Sign-up and login counts, shared by every web process: "database://" is the
    # app's own database; redis:// and memcached:// work too. memory:// counts per
    # process, and several gunicorn workers on it refuse to start.
    "RATELIMIT_STORAGE_URI": "database://",
    # When the counts cannot be read (the database is down), let requests through:
    # the page itself then answers that the database is unreachable.
    "RATELIMIT_SWALLOW_ERRORS": True,
    "LOGIN_RATE_LIMIT": "10 per minute",  # per client IP
    "LOGIN_ACCOUNT_RATE_LIMIT": "30 per hour",  # per account and client IP together
    # Proposals sent or changed through one partner's link (or private link), and
    # from one client IP across all links.
    "CONTRIBUTION_LIMIT_PER_LINK": "30 per day",
    "CONTRIBUTION_LIMIT_PER_ADDRESS": "10 per hour",
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
    # Uploaded images (item images, the logo) and built PDF editions; None: the
    # instance folder's media/.
    "MEDIA_PATH": None,
    "IMAGE_MAX_BYTES": 10 * 1024 * 1024,  # one uploaded image file
    # Origins whose pages may call the API from a browser, comma-separated:
    # "https://www.example.se,https://intranet.example.se" ("": none).
    "API_CORS_ORIGINS": "",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Argon2 parameters of new password hashes, an argon2-cffi profile name (older
    # hashes are redone at the next login). CHEAPEST is for test suites only.
    "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int | float)}


_BOOL_KEYS = {
    "SESSION_COOKIE_SECURE",
    "REMEMBER_COOKIE_SECURE",
    "RATELIMIT_ENABLED",
    "TESTING",
}

SETTINGS_EXTENSION = "newsletter.settings"


class ConfigError(RuntimeError):
    """A configuration value is missing or invalid."""


def _at_least(minimum: float) -> dict[str, Any]:
    """Field metadata: the smallest value a number setting may take."""
    return {"minimum": minimum}


def _above(bound: float) -> dict[str, Any]:
    """Field metadata: a number setting must be greater than bound."""
    return {"above": bound}


@dataclass(frozen=True)
class Settings:
    """Our configuration, typed and checked once at start.

    Each field is the configuration key of the same name in lower case (set as
    NEWSLETTER_<KEY>; defaults in DEFAULTS). Flask's and its extensions' own keys stay
    in app.config, where they read them; the few our code reads are copied here too.
    Numbers are never negative unless a field says otherwise.
    """

    env: str
    secret_key: str = field(repr=False)
    base_url: str
    site_name: str
    organisation: str
    mail_from: str
    smtp_host: str
    smtp_port: int = field(metadata={"minimum": 1, "maximum": 65535})
    smtp_security: Literal["none", "starttls", "tls"]
    smtp_username: str | None
    smtp_password: str | None = field(repr=False)
    smtp_connections: int = field(metadata=_at_least(1))
    smtp_timeout: float = field(metadata=_above(0))
    rate_per_second: float
    rate_per_hour: int
    domain_rate_limits: str
    return_path: str | None
    list_unsubscribe_mailto: str | None
    worker_batch_size: int = field(metadata=_at_least(1))
    worker_lease_seconds: float = field(metadata=_above(0))
    worker_idle_seconds: float
    worker_record_every: int = field(metadata=_at_least(1))
    worker_max_backoff_seconds: float = field(metadata=_above(0))
    max_attempts: int = field(metadata=_at_least(1))
    retry_base_seconds: float
    retry_max_seconds: float
    bounce_limit: int = field(metadata=_at_least(1))
    bounce_window_days: int = field(metadata=_at_least(1))
    bounce_mailbox_url: str | None = field(repr=False)
    bounce_mailbox_poll_seconds: float = field(metadata=_above(0))
    mailbox_path: str | None
    signup_rate_limit: str
    confirm_email_interval_minutes: int
    confirm_emails_per_day: int = field(metadata=_at_least(1))
    pending_days: int = field(metadata=_at_least(1))
    archive_stamp_seconds: float
    outbound_allow_private: bool
    feed_import_allow_private: bool
    link_check_timeout: float = field(metadata=_above(0))
    link_check_per_host: int = field(metadata=_at_least(1))
    link_check_every_seconds: float
    pdf_every_seconds: float = field(metadata=_at_least(0))
    media_purge_every_seconds: float = field(metadata=_at_least(0))
    contribution_reminder_days: int = field(metadata=_at_least(0))
    contribution_reminder_every_seconds: float = field(metadata=_at_least(0))
    dkim_domain: str | None
    dkim_selector: str | None
    dkim_private_key_path: str | None
    dkim_ed25519_selector: str | None
    dkim_ed25519_private_key_path: str | None
    ratelimit_storage_uri: str
    login_rate_limit: str
    login_account_rate_limit: str
    contribution_limit_per_link: str
    contribution_limit_per_address: str
    hsts_max_age: int
    proxy_fix_x_for: int
    babel_default_locale: str
    languages: tuple[str, ...]
    max_content_length: int = field(metadata=_at_least(1))
    import_max_bytes: int = field(metadata=_at_least(1))
    media_path: str
    image_max_bytes: int = field(metadata=_at_least(1))
    api_cors_origins: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Convert and check each setting's value; a bad one stops the start with a
        message naming its NEWSLETTER_ variable."""
        kinds = get_type_hints(cls)
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            key = spec.name.upper()
            if key not in config:
                raise ConfigError(f"{ENV_PREFIX}{key} is not set")
            values[spec.name] = _convert(
                ENV_PREFIX + key, config[key], kinds[spec.name], spec.metadata
            )
        values["base_url"] = values["base_url"].rstrip("/")
        parse_domain_rate_limits(values["domain_rate_limits"])
        values["api_cors_origins"] = ",".join(
            parse_cors_origins(values["api_cors_origins"])
        )
        return cls(**values)

    @property
    def allow_private_fetches(self) -> bool:
        """Whether the guarded fetcher may reach private addresses (tests only)."""
        return self.outbound_allow_private or self.feed_import_allow_private

    def cors_origins(self) -> frozenset[str]:
        """Return the origins whose pages may call the API, normalised."""
        return frozenset(filter(None, self.api_cors_origins.split(",")))

    def domain_rates(self) -> dict[str, float]:
        """Return the per-domain limits as messages per second, by ASCII domain."""
        return parse_domain_rate_limits(self.domain_rate_limits)

    def as_config(self) -> dict[str, Any]:
        """Return the settings under their configuration keys."""
        return {
            spec.name.upper(): getattr(self, spec.name)
            for spec in dataclasses.fields(self)
        }


_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_cors_origins(text: str) -> list[str]:
    """Read comma-separated origins (scheme://host[:port]) in the form browsers send
    them: lower case, without a default port. A path, a query, user details or a
    wildcard stop the start with a message naming NEWSLETTER_API_CORS_ORIGINS."""
    origins: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        problem = "must be scheme://host[:port], e.g. https://www.example.se"
        try:
            parts = urllib.parse.urlsplit(part)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if "*" in part:
            problem = "cannot hold a wildcard: name each origin"
        elif (
            parts is not None
            and parts.scheme in _DEFAULT_PORTS
            and parts.hostname
            and not parts.username
            and not parts.password
            and parts.path in ("", "/")
            and not parts.query
            and not parts.fragment
            and not part.endswith(("?", "#"))
        ):
            host = parts.hostname
            if ":" in host:  # an IPv6 address keeps its brackets in an origin
                host = f"[{host}]"
            origin = f"{parts.scheme}://{host}"
            if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
                origin += f":{port}"
            origins.append(origin)
            continue
        raise ConfigError(f"NEWSLETTER_API_CORS_ORIGINS: {part!r} {problem}")
    return origins


_PERIODS = {"s": 1.0, "min": 60.0, "h": 3600.0}
_DOMAIN_LIMIT = re.compile(r"([^=\s]+)\s*=\s*([0-9]*\.?[0-9]+)\s*/\s*(s|min|h)")


def parse_domain_rate_limits(text: str) -> dict[str, float]:
    """Read "gmail.com=20/s; outlook.com=10/min" as messages per second by domain;
    a bad part stops the start with a message naming it."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _DOMAIN_LIMIT.fullmatch(part)
        problem = "must be DOMAIN=NUMBER/s, /min or /h, e.g. gmail.com=20/s"
        if match and float(match[2]) <= 0:
            problem = "must allow more than 0 messages"
        elif match:
            try:
                domain = idna.encode(match[1], uts46=True).decode("ascii")
            except idna.IDNAError:
                problem = "does not name a valid domain"
            else:
                if domain in rates:
                    problem = "names a domain that is already limited"
                else:
                    rates[domain] = float(match[2]) / _PERIODS[match[3]]
                    continue
        raise ConfigError(f"{ENV_PREFIX}DOMAIN_RATE_LIMITS: {part!r} {problem}")
    return rates


SETTINGS_KEYS = frozenset(spec.name.upper() for spec in dataclasses.fields(Settings))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(name: str, raw: object, kind: object, limits: Mapping[str, Any]) -> Any:
    """Return raw as a value of kind: the environment gives text, code and tests may
    give the value itself."""
    if get_origin(kind) is Literal:
        choices = [str(choice) for choice in get_args(kind)]
        if raw in choices:
            return raw
        listed = ", ".join(choices[:-1]) + " or " + choices[-1]
        raise ConfigError(f"{name} must be {listed}, got {raw!r}")
    if kind is bool:
        return _boolean(name, raw)
    if kind is int or kind is float:
        return _within(name, _number(name, raw, whole=kind is int), limits)
    if kind is str or kind == str | None:
        if isinstance(raw, str) or (raw is None and kind is not str):
            return raw
        raise ConfigError(f"{name} must be text, got {raw!r}")
    if kind == tuple[str, ...]:
        return _text_list(name, raw)
    raise TypeError(f"{name}: no conversion to {kind}")


def _boolean(name: str, raw: object) -> bool:
    """Read true/false, yes/no, on/off or 1/0."""
    if isinstance(raw, bool):
        return raw
    word = raw.strip().lower() if isinstance(raw, str) else None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _number(name: str, raw: object, *, whole: bool) -> int | float:
    """Read a finite number; whole numbers for whole-number settings."""
    value: int | float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            value = None
    if value is None or not math.isfinite(value) or (whole and value != int(value)):
        qualifier = " without decimals" if whole else ""
        raise ConfigError(f"{name} must be a number{qualifier}, got {raw!r}")
    return int(value) if whole else float(value)


def _within(name: str, value: int | float, limits: Mapping[str, Any]) -> int | float:
    """Check a number against its field's limits (by default: not negative)."""
    minimum = limits.get("minimum", 0)
    maximum = limits.get("maximum")
    above = limits.get("above")
    if above is not None and value <= above:
        raise ConfigError(f"{name} must be greater than {above}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        span = f"from {minimum} to {maximum}" if maximum else f"at least {minimum}"
        raise ConfigError(f"{name} must be {span}, got {value!r}")
    return value


def _text_list(name: str, raw: object) -> tuple[str, ...]:
    """Read a list of strings, from the environment as JSON: ["sv", "en"]."""
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f'{name} must be a list such as ["sv", "en"], got {raw!r}')


def _from_environment(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Read NEWSLETTER_<KEY> variables, converting numbers and booleans; our own
    settings stay text here and are converted and checked by Settings."""
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name.removeprefix(ENV_PREFIX)
        default = DEFAULTS.get(key)
        if key in SETTINGS_KEYS:
            values[key] = raw
        elif isinstance(default, bool) or key in _BOOL_KEYS:
            values[key] = raw.strip().lower() in _TRUE
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


def settings_of(app: Flask) -> Settings:
    """Return an app's settings."""
    value = app.extensions[SETTINGS_EXTENSION]
    if not isinstance(value, Settings):
        raise RuntimeError("the app's settings are missing; create it with create_app")
    return value


def settings() -> Settings:
    """Return the current app's settings."""
    return settings_of(current_app)


def _store(app: Flask, values: Settings) -> Settings:
    """Keep the settings on the app, and app.config in step with them."""
    app.extensions[SETTINGS_EXTENSION] = values
    app.config.update(values.as_config())
    return values


def update_settings(app: Flask, **changes: Any) -> Settings:
    """Change some settings of a created app (the development server, tests), by
    configuration key; they are checked as at start."""
    unknown = set(changes) - SETTINGS_KEYS
    if unknown:
        raise ConfigError(f"not settings: {', '.join(sorted(unknown))}")
    return _store(app, Settings.from_config({**app.config, **changes}))


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


def _check_return_path(values: Settings) -> None:
    """Refuse a bounce address whose VERP form would not fit in an SMTP address."""
    from newsletter.mail.verp import split_return_path

    try:
        split_return_path(values.return_path or values.mail_from)
    except ValueError as exc:
        raise ConfigError(f"NEWSLETTER_RETURN_PATH: {exc}") from None


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config from defaults, the environment and the test mapping, and build
    the app's Settings from it: a bad value stops the start here."""
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
    if not app.config["MEDIA_PATH"]:
        app.config["MEDIA_PATH"] = str(Path(app.instance_path) / "media")
    settings = _store(app, Settings.from_config(app.config))
    _check_return_path(settings)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = settings.base_url.startswith("https://")
    if app.config.get("REMEMBER_COOKIE_SECURE") is None:
        app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    _host_bound_cookie_names(app.config)
    _check_password_hash_profile(app)
