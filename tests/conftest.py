"""Fixtures: an app on a real SQLite file and on PostgreSQL, clients, an editor."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from newsletter import create_app
from newsletter.extensions import db
from newsletter.services import themes
from tests.factories import PASSWORD, make_editor

PG_URL_VARIABLE = "NEWSLETTER_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def require(condition: bool, reason: str) -> None:
    """Skip when a piece of the test environment is missing; in CI, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, not skipped)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test that asks for a PostgreSQL database by name, so that
    `-m "not postgresql"` deselects it (database_url's parameter carries the mark)."""
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Create a database of this run's own (runs side by side never collide)."""
    url = os.environ.get(PG_URL_VARIABLE, "")
    require(bool(url), f"{PG_URL_VARIABLE} is not set; PostgreSQL tests need it")
    server = make_url(url)
    name = f"{server.database}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    """Return the configuration every test app starts from."""
    testing = overrides.get("TESTING", True)
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BASE_URL": "http://localhost",
        "RATELIMIT_ENABLED": False,
        "ARCHIVE_STAMP_SECONDS": 0,  # tests publish and read back at once
        # Argon2 with its default cost takes a third of a second per login here.
        **({"PASSWORD_HASH_PROFILE": "CHEAPEST"} if testing else {}),
        **overrides,
    }


def reset_schema(app: Flask) -> None:
    """Create the tables, emptying them if they exist, and add the default themes."""
    with app.app_context():
        db.create_all()
        names = ", ".join(t.name for t in reversed(db.metadata.sorted_tables))
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                db.session.execute(table.delete())
        themes.ensure_default_themes()
        db.session.commit()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a database URL for each engine the suite runs on."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Return a function that builds an app with extra configuration on a fresh DB."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        application = create_app(base_config(database_url, **overrides))
        reset_schema(application)
        made.append(application)
        return application

    yield build
    for application in made:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """Return an app on an empty database with the default themes."""
    return make_app()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """Return an app on SQLite only, for tests about the process, not the engine."""
    application = create_app(base_config(f"sqlite:///{tmp_path / 'test.sqlite3'}"))
    reset_schema(application)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return an anonymous test client."""
    return app.test_client()


class EditorClient:
    """A logged-in test client that sends the CSRF token with every form."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def get(self, url: str, **kwargs: Any) -> Any:
        """GET a page."""
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the session's CSRF token."""
        return self.client.post(
            url, data={"csrf_token": self.token, **(data or {})}, **kwargs
        )


def csrf_token_from(client: FlaskClient, url: str = "/editor/login") -> str:
    """Open a page and return the CSRF token of its first form."""
    match = CSRF_PATTERN.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def log_in(client: FlaskClient, email: str, password: str = PASSWORD) -> EditorClient:
    """Log a client in through the login form."""
    token = csrf_token_from(client)
    response = client.post(
        "/editor/login",
        data={"csrf_token": token, "email": email, "password": password},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return EditorClient(client, csrf_token_from(client, "/editor/"))


@pytest.fixture
def editor(app: Flask) -> EditorClient:
    """Return a client logged in as an ordinary editor."""
    with app.app_context():
        make_editor(email="editor@example.se", name="Eva Editor")
    return log_in(app.test_client(), "editor@example.se")


@pytest.fixture
def admin(app: Flask) -> EditorClient:
    """Return a client logged in as an administrator."""
    with app.app_context():
        make_editor(email="admin@example.se", name="Ada Admin", is_admin=True)
    return log_in(app.test_client(), "admin@example.se")


@pytest.fixture
def live_url(sqlite_app: Flask) -> Iterator[str]:
    """Serve the SQLite app on loopback for a real browser."""
    from tests.browser import live_server

    with live_server(sqlite_app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Launch Debian's chromium once per run (required in CI)."""
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    require(CHROMIUM.exists(), f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        require(False, "the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """Open a fresh browser context and page, Swedish and desktop-sized."""
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """Run a recording SMTP server on loopback."""
    from tests.smtp import SMTPServer

    with SMTPServer() as server:
        yield server


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp_server: Any) -> Flask:
    """Return an app whose workers send to the loopback SMTP server, fast retries."""
    return make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_server.port,
        BASE_URL="https://nyhetsbrev.example.se",
        MAIL_FROM="Nyhetsbrevet Väst <nyhetsbrev@example.se>",
        WORKER_IDLE_SECONDS=0.05,
        RETRY_BASE_SECONDS=0.01,
        RETRY_MAX_SECONDS=0.05,
    )
