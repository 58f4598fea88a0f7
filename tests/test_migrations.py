"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from newsletter import create_app
from newsletter.extensions import db
from newsletter.models import (
    ConsentKind,
    DeliveryStatus,
    IssueStatus,
    MessageStatus,
    SubscriberStatus,
)
from newsletter.models.types import render_migration_item  # noqa: F401
from tests.conftest import base_config

# Migrations drop and create tables: they run on a database of their own, not in a
# transaction on the shared schema.
pytestmark = pytest.mark.real_commits


def _empty_database(app) -> None:
    """Drop everything, including alembic_version."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _differences(app) -> list:
    """Return what autogenerate would still change after the migrations ran."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_migrations_build_the_models_schema_and_downgrade_cleanly(database_url):
    app = create_app(base_config(database_url))
    _empty_database(app)
    try:
        with app.app_context():
            upgrade()
        assert _differences(app) == []
        with app.app_context():
            downgrade(revision="base")
            tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert tables == set()
            upgrade()
        assert _differences(app) == []
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_stored_international_domains_are_upgraded_to_ascii(database_url):
    app = create_app(base_config(database_url))
    _empty_database(app)
    rows = [
        (1, "anna@företag.se"),  # becomes ASCII
        (2, "bo@example.se"),  # unchanged
        (3, "cilla@xn--fretag-wxa.se"),  # already ASCII
        (4, "cilla@företag.se"),  # its ASCII form is row 3: kept, not merged or lost
    ]
    try:
        with app.app_context():
            upgrade(revision="5b0e2f4c9a17")  # the previous release
            with db.engine.begin() as conn:
                for row_id, email in rows:
                    conn.execute(
                        text(
                            "INSERT INTO subscriber (id, email, name, language, "
                            "status, token_version, bounce_count, created_at) VALUES "
                            "(:id, :email, 'N', 'sv', 'confirmed', 1, 0, "
                            "CURRENT_TIMESTAMP)"
                        ),
                        {"id": row_id, "email": email},
                    )
            upgrade()
            with db.engine.connect() as conn:
                stored = dict(
                    conn.execute(text("SELECT id, email FROM subscriber")).all()
                )
        assert stored == {
            1: "anna@xn--fretag-wxa.se",
            2: "bo@example.se",
            3: "cilla@xn--fretag-wxa.se",
            4: "cilla@företag.se",
        }
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_the_send_rate_table_is_added_without_touching_queued_mail(database_url):
    app = create_app(base_config(database_url))
    _empty_database(app)
    try:
        with app.app_context():
            upgrade(revision="8c1d5e2a7f30")  # the previous release
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO outbound_message (id, status, template, "
                        "context, language, to_address, to_name, attempts, "
                        "next_attempt_at, last_error, created_at) VALUES (7, "
                        "'queued', 'confirm_subscription', '{}', 'sv', "
                        "'anna@example.se', 'Anna', 0, CURRENT_TIMESTAMP, '', "
                        "CURRENT_TIMESTAMP)"
                    )
                )
            upgrade()
            with db.engine.begin() as conn:
                queued = conn.execute(
                    text("SELECT id, status, to_address FROM outbound_message")
                ).all()
                conn.execute(text("INSERT INTO send_rate (key) VALUES ('all')"))
                rate = conn.execute(
                    text("SELECT next_at, window_count, granted FROM send_rate")
                ).one()
            downgrade(revision="8c1d5e2a7f30")
            tables = set(inspect(db.engine).get_table_names())
        assert queued == [(7, "queued", "anna@example.se")]
        assert tuple(rate) == (0, 0, 0)
        assert "send_rate" not in tables and "outbound_message" in tables
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_migrated_check_constraints_allow_exactly_the_enum_values(database_url):
    # Autogenerate does not compare CHECK constraints: a new enum member needs a
    # migration of its own, and this test says so.
    app = create_app(base_config(database_url))
    _empty_database(app)
    expected = {
        ("issue", "ck_issue_status"): IssueStatus,
        ("delivery", "ck_delivery_status"): DeliveryStatus,
        ("outbound_message", "ck_outbound_message_status"): MessageStatus,
        ("subscriber", "ck_subscriber_status"): SubscriberStatus,
        ("consent_event", "ck_consent_event_kind"): ConsentKind,
    }
    try:
        with app.app_context():
            upgrade()
            inspector = inspect(db.engine)
            found = {
                (table, check["name"]): set(re.findall(r"'([^']*)'", check["sqltext"]))
                for table, _name in expected
                for check in inspector.get_check_constraints(table)
            }
        assert found == {
            key: {member.value for member in enum} for key, enum in expected.items()
        }
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()
