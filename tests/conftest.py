"""Fixtures: apps on a real SQLite file and on PostgreSQL, each test inside a
transaction rolled back afterwards; clients, an editor, a browser, an SMTP server."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any, NoReturn

import pytest
from flask import Flask
from flask.globals import app_ctx
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    make_url,
    select,
    text,
)
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from newsletter import create_app
from newsletter.extensions import db
from newsletter.models import Role
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
        if {"postgres_url", "postgresql_schema", "own_postgres"} & set(
            getattr(item, "fixturenames", ())
        ):
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


# Images and PDF editions the tests store: never the instance folder.
TEST_MEDIA = tempfile.mkdtemp(prefix="newsletter-media-")


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
        "LINK_CHECK_EVERY_SECONDS": 0,  # workers reach no outside address in tests
        "CONTRIBUTION_REMINDER_EVERY_SECONDS": 0,  # every worker round looks
        "PDF_EVERY_SECONDS": 0,  # a build takes a second: only the PDF tests build
        "MEDIA_PURGE_EVERY_SECONDS": 0,  # only the purge tests' workers purge
        "MEDIA_PATH": TEST_MEDIA,
        # Argon2 with its default cost takes a third of a second per login here.
        **({"PASSWORD_HASH_PROFILE": "CHEAPEST"} if testing else {}),
        **overrides,
    }


class CompiledTemplates(BytecodeCache):
    """Templates compiled once for the whole run: every test builds a new app, and
    each app compiling the same templates again cost a tenth of a second a test."""

    def __init__(self) -> None:
        self.code: dict[str, tuple[str, CodeType]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Hand out the code compiled from the same source, if there is any."""
        found = self.code.get(bucket.key)
        if found and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep freshly compiled code for the next app."""
        if bucket.code is not None:
            self.code[bucket.key] = (bucket.checksum, bucket.code)


COMPILED_TEMPLATES = CompiledTemplates()


def build_app(config: dict[str, Any]) -> Flask:
    """Create an app that shares the run's compiled templates."""
    application = create_app(config)
    application.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    return application


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


@dataclass(frozen=True)
class SharedSchema:
    """A database whose schema and default themes are built once per run; each test
    works inside a transaction on it that is rolled back afterwards."""

    url: str
    # The engine of the app that built the schema: tests borrow its connections, and
    # it keeps compiled SQL from one test to the next.
    engine: Engine
    # PostgreSQL hands out sequence numbers outside transactions: this statement
    # puts every sequence back to where the fresh schema left it.
    restart_sequences: str | None
    rows: dict[str, int]  # rows per table when built, checked again at the end


def build_shared_schema(url: str) -> SharedSchema:
    """Create the tables and default themes once, and note how to restart ids."""
    application = create_app(base_config(url))
    reset_schema(application)
    with application.app_context():
        restart = None
        if db.engine.dialect.name == "postgresql":
            restart = _restart_sequences_statement()
        rows = _rows_per_table()
        db.session.remove()
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _begin_explicitly(engine)
    return SharedSchema(url, engine, restart, rows)


def _begin_explicitly(engine: Engine) -> None:
    """Make pysqlite's transactions begin when SQLAlchemy's do. pysqlite begins one
    only before a write, so a savepoint could be the outermost one and its release
    a commit; this is the remedy SQLAlchemy documents for the pysqlite driver."""

    def driver_leaves_transactions_alone(dbapi_connection: Any, _record: Any) -> None:
        """Stop pysqlite from beginning and committing on its own."""
        dbapi_connection.isolation_level = None

    def begin(connection: Connection) -> None:
        """Emit the BEGIN that pysqlite no longer does."""
        connection.exec_driver_sql("BEGIN")

    event.listen(engine, "connect", driver_leaves_transactions_alone)
    event.listen(engine, "begin", begin)
    engine.dispose()  # the connections made so far began the old way


def check_shared_schema_untouched(schema: SharedSchema) -> None:
    """Fail the run when a test's commits reached the shared schema."""
    with Session(schema.engine) as session:
        rows = _rows_per_table(session)
    schema.engine.dispose()
    assert rows == schema.rows, (
        "a test committed to the shared schema: mark it real_commits"
    )


def _rows_per_table(session: Any = None) -> dict[str, int]:
    """Count the rows of every table."""
    session = session or db.session
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in db.metadata.sorted_tables
    }


def _restart_sequences_statement() -> str | None:
    """Return one SELECT that sets each table's id sequence after its highest id."""
    calls = []
    for table in db.metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = db.session.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": column.name},
        )
        if sequence is None:
            continue
        highest = db.session.scalar(select(func.max(column))) or 0
        # setval(seq, n, false): the next id handed out is n.
        calls.append(f"setval('{sequence}', {highest + 1}, false)")
    return f"SELECT {', '.join(calls)}" if calls else None


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedSchema]:
    """Return the run's SQLite file with the schema, for rolled-back tests."""
    path = tmp_path_factory.mktemp("schema") / "test.sqlite3"
    schema = build_shared_schema(f"sqlite:///{path}")
    yield schema
    check_shared_schema_untouched(schema)


@pytest.fixture(scope="session")
def postgresql_schema(postgres_url: str) -> Iterator[SharedSchema]:
    """Return the run's PostgreSQL schema "shared", for rolled-back tests: a schema
    beside public in the run's database (dropping a second database would cost a
    checkpoint)."""
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA shared"))
    engine.dispose()
    url = make_url(postgres_url).update_query_dict({"options": "-csearch_path=shared"})
    schema = build_shared_schema(url.render_as_string(hide_password=False))
    yield schema
    check_shared_schema_untouched(schema)


def needs_real_commits(request: pytest.FixtureRequest) -> bool:
    """Return whether the test is marked real_commits (no rolled-back transaction)."""
    return request.node.get_closest_marker("real_commits") is not None


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a database URL for each engine the suite runs on."""
    if needs_real_commits(request):
        if request.param == "postgresql":
            return request.getfixturevalue("postgres_url")
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return shared_schema(request).url


def shared_schema(request: pytest.FixtureRequest) -> SharedSchema:
    """Return the shared-schema database of the test's engine."""
    engine = request.node.callspec.params["database_url"]
    return request.getfixturevalue(f"{engine}_schema")


class ConnectionSession(FlaskSQLAlchemySession):
    """db.session of a rolled-back test: every statement goes to the test's one
    connection, whichever app or table it is for."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        """Return the test's connection."""
        return self.bind


def _app_context_id() -> int:
    """Scope sessions per app context, as Flask-SQLAlchemy does."""
    return id(app_ctx._get_current_object())  # type: ignore[attr-defined]


def _refuse_connection() -> NoReturn:
    """Stand in for the database driver of a rolled-back test's app."""
    raise RuntimeError(
        "a rolled-back test has one connection, db.session's; a test that needs "
        "others (threads, processes, db.engine) is marked real_commits"
    )


@contextmanager
def rolled_back(schema: SharedSchema) -> Iterator[None]:
    """Bind db.session to one connection inside a transaction that is rolled back at
    the end; a commit in the code under test only releases a savepoint."""
    connection = schema.engine.connect()
    transaction = connection.begin()
    if schema.restart_sequences:
        connection.execute(text(schema.restart_sequences))
    original = db.session
    sessions = scoped_session(
        sessionmaker(
            class_=ConnectionSession,
            db=db,
            query_cls=db.Query,
            bind=connection,
            join_transaction_mode="create_savepoint",
        ),
        scopefunc=_app_context_id,
    )
    db.session = sessions
    try:
        yield
    finally:
        db.session = original
        for session in list(sessions.registry.registry.values()):  # type: ignore[attr-defined]
            session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def make_app(
    request: pytest.FixtureRequest, database_url: str
) -> Iterator[Callable[..., Flask]]:
    """Return a function that builds an app with extra configuration on an empty
    database: inside a transaction rolled back after the test, or, for tests marked
    real_commits, on tables emptied first."""
    made: list[Flask] = []
    real_commits = needs_real_commits(request)
    with ExitStack() as stack:

        def build(**overrides: Any) -> Flask:
            """Create an app on the test's database with these settings."""
            if not real_commits:
                # Its engine may not connect: another connection would not see the
                # test's data, and its commits would outlive the test.
                overrides.setdefault(
                    "SQLALCHEMY_ENGINE_OPTIONS", {"creator": _refuse_connection}
                )
                # Nor may the rate limits' own connections: they count in memory
                # here, and in the database in tests marked real_commits.
                overrides.setdefault("RATELIMIT_STORAGE_URI", "memory://")
            application = build_app(base_config(database_url, **overrides))
            if real_commits:
                reset_schema(application)
            elif not made:
                stack.enter_context(rolled_back(shared_schema(request)))
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
def postgres_app(postgres_url: str) -> Iterator[Flask]:
    """Return an app on the run's PostgreSQL database with tables emptied first, for
    tests that run worker processes against it."""
    application = build_app(
        base_config(postgres_url, BASE_URL="https://nyhetsbrev.example.se")
    )
    reset_schema(application)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """Return an app on SQLite only, for tests about the process, not the engine."""
    application = build_app(base_config(f"sqlite:///{tmp_path / 'test.sqlite3'}"))
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
def publisher(app: Flask) -> EditorClient:
    """Return a client logged in as a publisher (who may send and schedule)."""
    with app.app_context():
        make_editor(
            email="utgivare@example.se", name="Ulla Utgivare", role=Role.PUBLISHER
        )
    return log_in(app.test_client(), "utgivare@example.se")


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
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        require(False, "the playwright package is not installed")
    # The shared 2-core machines are slow at times: wait as long for an assertion
    # as the tests' contexts wait for an action.
    expect.set_options(timeout=10_000)
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


@pytest.fixture
def own_postgres() -> Iterator[Any]:
    """Run a PostgreSQL cluster of the test's own, to restart and stop at will."""
    from tests.postgres_cluster import OwnCluster, can_create_clusters

    require(
        can_create_clusters(),
        "a PostgreSQL cluster of the test's own needs pg_createcluster, run as root",
    )
    cluster = OwnCluster(f"newsletter_test_{os.getpid()}")
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.drop()
