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
    BounceKind,
    ConsentKind,
    DeliveryStatus,
    IssueStatus,
    LinkOutcome,
    MessageStatus,
    SubscriberStatus,
)
from newsletter.models.types import render_migration_item  # noqa: F401
from newsletter.rate_limits import DatabaseStorage
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
        include = app.extensions["migrate"].configure_args["include_object"]
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include}
        )
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
        ("bounce", "ck_bounce_kind"): BounceKind,
        ("link_check", "ck_link_check_outcome"): LinkOutcome,
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


def test_rate_limit_counters_come_and_go_without_touching_other_data(database_url):
    app = create_app(base_config(database_url))
    _empty_database(app)
    subscribers = "SELECT id, email, status FROM subscriber ORDER BY id"
    try:
        with app.app_context():
            upgrade(revision="8c1d5e2a7f30")  # the previous revision
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO subscriber (id, email, name, language, status, "
                        "token_version, bounce_count, created_at) VALUES (7, "
                        "'anna@example.se', 'Anna', 'sv', 'confirmed', 1, 0, "
                        "CURRENT_TIMESTAMP)"
                    )
                )
            upgrade(revision="3f6a9d2b7c41")
            storage = DatabaseStorage("database://", engine=db.engine)
            assert [storage.incr("a key", 60) for _ in range(2)] == [1, 2]
            with db.engine.connect() as conn:
                after_upgrade = conn.execute(text(subscribers)).all()
            downgrade(revision="8c1d5e2a7f30")
            with db.engine.connect() as conn:
                after_downgrade = conn.execute(text(subscribers)).all()
            tables = set(inspect(db.engine).get_table_names())
        assert after_upgrade == after_downgrade == [(7, "anna@example.se", "confirmed")]
        assert "rate_limit_counter" not in tables
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_bounce_records_arrive_without_touching_the_stored_consent_history(
    database_url,
):
    app = create_app(base_config(database_url))
    _empty_database(app)
    statements = [
        "INSERT INTO subscriber (id, email, name, language, status, token_version, "
        "bounce_count, created_at) VALUES (7, 'anna@example.se', 'Anna', 'sv', "
        "'confirmed', 3, 1, CURRENT_TIMESTAMP)",
        "INSERT INTO consent_event (id, subscriber_id, kind, at, ip, user_agent, how, "
        "consent_version, consent_text, detail) VALUES (1, 7, 'requested', "
        "CURRENT_TIMESTAMP, '192.0.2.1', 'Firefox', 'web form', 'v1', 'Ja tack', ''), "
        "(2, 7, 'confirmed', CURRENT_TIMESTAMP, '192.0.2.1', 'Firefox', "
        "'confirmation link', 'v1', '', '')",
    ]
    events = "SELECT id, subscriber_id, kind, ip, how, consent_text FROM consent_event"
    try:
        with app.app_context():
            upgrade(revision="8c1d5e2a7f30")  # the previous release
            with db.engine.begin() as conn:
                for statement in statements:
                    conn.execute(text(statement))
                before = conn.execute(text(events)).all()
            upgrade()
            with db.engine.begin() as conn:
                assert conn.execute(text(events)).all() == before
                conn.execute(
                    text(
                        "INSERT INTO consent_event (id, subscriber_id, kind, at, ip, "
                        "user_agent, how, consent_version, consent_text, detail) "
                        "VALUES (3, 7, 'complaint', CURRENT_TIMESTAMP, '', '', "
                        "'spam report', '', '', 'abuse')"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO bounce (kind, subscriber_id, status, reason, "
                        "source, received_at) VALUES ('hard', 7, '5.1.1', 'User "
                        "unknown', 'dsn', CURRENT_TIMESTAMP)"
                    )
                )
            downgrade(revision="8c1d5e2a7f30")
            with db.engine.connect() as conn:
                kinds = conn.execute(text("SELECT kind FROM consent_event")).scalars()
                assert sorted(kinds) == ["confirmed", "requested", "unsubscribed"]
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_worker_heartbeats_arrive_and_leave_without_touching_other_rows(database_url):
    app = create_app(base_config(database_url))
    _empty_database(app)
    subscribers = "SELECT id, email, status FROM subscriber ORDER BY id"
    try:
        with app.app_context():
            upgrade(revision="8c1d5e2a7f30")  # the revision before the heartbeats
            with db.engine.begin() as conn:
                for row_id in (1, 2):
                    conn.execute(
                        text(
                            "INSERT INTO subscriber (id, email, name, language, "
                            "status, token_version, bounce_count, created_at) VALUES "
                            "(:id, :email, 'N', 'sv', 'confirmed', 1, 0, "
                            "CURRENT_TIMESTAMP)"
                        ),
                        {"id": row_id, "email": f"s{row_id}@example.se"},
                    )
                before = conn.execute(text(subscribers)).all()
            upgrade()
            with db.engine.begin() as conn:
                assert conn.execute(text(subscribers)).all() == before
                conn.execute(
                    text(
                        "INSERT INTO worker_heartbeat (name, hostname, pid, "
                        "started_at, last_seen_at) VALUES ('host:1', 'host', 1, "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
            downgrade(revision="8c1d5e2a7f30")
            assert "worker_heartbeat" not in inspect(db.engine).get_table_names()
            with db.engine.connect() as conn:
                assert conn.execute(text(subscribers)).all() == before
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_link_checks_arrive_and_leave_without_touching_issue_links(database_url):
    app = create_app(base_config(database_url))
    _empty_database(app)
    stored_links = "SELECT id, item_id, label, url FROM link ORDER BY id"
    try:
        with app.app_context():
            upgrade(revision="d7e4a1c9b352")  # the revision before link checks
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO issue (id, title, slug, intro, preheader, "
                        "status, version, created_at, updated_at, updated_by) "
                        "VALUES (1, 'N', 'n', '', '', 'draft', 1, CURRENT_TIMESTAMP, "
                        "CURRENT_TIMESTAMP, '')"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO theme (id, slug, name, description, position, "
                        "active, updated_at) VALUES (99, 'ovrigt', 'Övrigt', '', 9, "
                        "true, CURRENT_TIMESTAMP)"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO item (id, issue_id, theme_id, position, title, "
                        "body, contact_name, contact_phone, contact_email, "
                        "updated_at, updated_by, version) VALUES (1, 1, 99, 0, 'T', "
                        "'', '', '', '', CURRENT_TIMESTAMP, '', 1)"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO link (id, item_id, position, label, url) "
                        "VALUES (1, 1, 0, 'Program', 'https://example.se/program')"
                    )
                )
                before = conn.execute(text(stored_links)).all()
            upgrade()
            with db.engine.begin() as conn:
                assert conn.execute(text(stored_links)).all() == before
                conn.execute(
                    text(
                        "INSERT INTO link_check (url, checked_at, outcome, "
                        "http_status, final_url, reason) VALUES ("
                        "'https://example.se/program', CURRENT_TIMESTAMP, 'working', "
                        "200, 'https://example.se/program', '')"
                    )
                )
            downgrade(revision="d7e4a1c9b352")
            assert "link_check" not in inspect(db.engine).get_table_names()
            with db.engine.connect() as conn:
                assert conn.execute(text(stored_links)).all() == before
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_contact_tables_arrive_and_leave_without_touching_items(
    database_url,
):
    app = create_app(base_config(database_url))
    _empty_database(app)
    try:
        with app.app_context():
            upgrade(revision="d7e4a1c9b352")  # the previous release
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO theme (id, slug, name, description, position, "
                        "active, updated_at) VALUES (1, 'aldre', 'Äldre', '', 0, "
                        "true, CURRENT_TIMESTAMP)"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO issue (id, title, slug, intro, preheader, "
                        "status, created_at, updated_at, updated_by, version) "
                        "VALUES (1, 'Februari', 'februari', '', '', 'sent', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '', 1)"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO item (id, issue_id, theme_id, position, title, "
                        "body, contact_name, contact_phone, contact_email, "
                        "updated_at, updated_by, version) VALUES (1, 1, 1, 0, '', "
                        "'Välkommen', 'Maria Svensson', '0480-837 78', "
                        "'maria@example.se', CURRENT_TIMESTAMP, '', 1)"
                    )
                )
            upgrade()
            item_query = text(
                "SELECT title, body, contact_name, contact_phone, contact_email "
                "FROM item"
            )
            with db.engine.begin() as conn:
                after_upgrade = conn.execute(item_query).all()
                conn.execute(
                    text(
                        "INSERT INTO contact (name, title, organisation, phone, "
                        "email, updated_at) VALUES ('Maria Svensson', '', '', '', "
                        "'maria@example.se', CURRENT_TIMESTAMP)"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO section_contact (issue_id, theme_id, "
                        "contact_name, contact_phone, contact_email) VALUES "
                        "(1, 1, 'Maria Svensson', '', '')"
                    )
                )
            downgrade(revision="d7e4a1c9b352")
            with db.engine.connect() as conn:
                after_downgrade = conn.execute(item_query).all()
            tables = set(inspect(db.engine).get_table_names())
        expected = [
            ("", "Välkommen", "Maria Svensson", "0480-837 78", "maria@example.se")
        ]
        assert after_upgrade == after_downgrade == expected
        assert not {"contact", "section_contact"} & tables and "item" in tables
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_contributions_arrive_and_leave_without_touching_issues_items_or_links(
    database_url,
):
    app = create_app(base_config(database_url))
    _empty_database(app)
    contents = (
        "SELECT issue.title, issue.status, item.title, item.body, item.contact_name, "
        "link.label, link.url FROM issue JOIN item ON item.issue_id = issue.id "
        "JOIN link ON link.item_id = item.id ORDER BY link.id"
    )
    try:
        with app.app_context():
            upgrade(revision="a3f9c2d1e8b4")  # the previous release
            with db.engine.begin() as conn:
                for statement in (
                    "INSERT INTO theme (id, slug, name, description, position, "
                    "active, updated_at) VALUES (1, 'aldre', 'Äldre', '', 0, true, "
                    "CURRENT_TIMESTAMP)",
                    "INSERT INTO issue (id, title, slug, intro, preheader, status, "
                    "created_at, updated_at, updated_by, version) VALUES (1, "
                    "'Februari', 'februari', '', '', 'sent', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP, '', 3)",
                    "INSERT INTO item (id, issue_id, theme_id, position, title, body, "
                    "contact_name, contact_phone, contact_email, updated_at, "
                    "updated_by, version) VALUES (1, 1, 1, 0, 'Träffpunkt', "
                    "'<p>Välkommen</p>', 'Maria Svensson', '0480-837 78', "
                    "'maria@example.se', CURRENT_TIMESTAMP, '', 2)",
                    "INSERT INTO link (id, item_id, position, label, url) VALUES "
                    "(1, 1, 0, 'Program', 'https://example.se/program'), "
                    "(2, 1, 1, 'Anmälan', 'https://example.se/anmalan')",
                    "INSERT INTO section_contact (issue_id, theme_id, contact_name, "
                    "contact_phone, contact_email) VALUES (1, 1, 'Maria Svensson', "
                    "'', '')",
                ):
                    conn.execute(text(statement))
                before = conn.execute(text(contents)).all()
            upgrade()
            with db.engine.begin() as conn:
                after_upgrade = conn.execute(text(contents)).all()
                plan = conn.execute(
                    text("SELECT publish_on, contribution_deadline FROM issue")
                ).one()
                origin = conn.execute(text("SELECT proposal_id FROM item")).scalar()
                # A partner's proposal that became the item, to be dropped again.
                for statement in (
                    "INSERT INTO contribution_link (id, organisation, contact_email, "
                    "contact_name, token_hash, token_sealed, created_at, created_by, "
                    "revoked_by) VALUES (1, 'Kalmar kommun', 'a@example.se', '', "
                    "'h', 's', CURRENT_TIMESTAMP, '', '')",
                    "INSERT INTO proposal (id, link_id, issue_id, theme_id, status, "
                    "title, body, contact_name, contact_title, contact_organisation, "
                    "contact_phone, contact_email, note, proposer_email, language, "
                    "edit_secret, late, submitted_at, updated_at, editor_message, "
                    "decided_by, version) VALUES (1, 1, 1, 1, 'accepted', 'T', '', "
                    "'', '', '', '', '', '', 'p@example.se', 'sv', 'x', false, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '', '', 1)",
                    "UPDATE item SET proposal_id = 1",
                    "INSERT INTO audit_event (at, actor_kind, actor, action, "
                    "object_type, object_id, object_title, changes) VALUES "
                    "(CURRENT_TIMESTAMP, 'editor', 'e@example.se', "
                    "'proposal.accepted', 'proposal', 1, 'T', '{}')",
                ):
                    conn.execute(text(statement))
            downgrade(revision="a3f9c2d1e8b4")
            with db.engine.connect() as conn:
                after_downgrade = conn.execute(text(contents)).all()
                if db.engine.dialect.name == "sqlite":
                    # The migration turned foreign keys off; the pooled connection
                    # must get them back.
                    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            tables = set(inspect(db.engine).get_table_names())
        assert len(before) == 2
        assert after_upgrade == after_downgrade == before
        assert plan == (None, None) and origin is None
        assert not {"proposal", "contribution_link", "audit_event"} & tables
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_roles_replace_the_admin_flag_and_return_to_it(database_url):
    app = create_app(base_config(database_url))
    _empty_database(app)
    accounts = "SELECT email, role FROM editor ORDER BY id"
    try:
        with app.app_context():
            upgrade(revision="c6e1f0a2b9d3")  # the previous release
            with db.engine.begin() as conn:
                for n, admin in enumerate((True, False)):
                    conn.execute(
                        text(
                            "INSERT INTO editor (email, name, password_hash, "
                            "is_admin, active, created_at, session_version) VALUES "
                            "(:email, 'N', 'x', :admin, true, CURRENT_TIMESTAMP, 0)"
                        ),
                        {"email": f"e{n}@example.se", "admin": admin},
                    )
                conn.execute(
                    text(
                        "INSERT INTO issue (id, title, slug, intro, preheader, "
                        "status, created_at, updated_at, updated_by, version) "
                        "VALUES (1, 'Mars', 'mars', '', '', 'draft', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'Eva', 4)"
                    )
                )
            upgrade()
            with db.engine.begin() as conn:
                roles = conn.execute(text(accounts)).all()
                issue = conn.execute(
                    text("SELECT title, version, approved_by, approved_at FROM issue")
                ).one()
                conn.execute(
                    text(
                        "INSERT INTO editor (email, name, password_hash, role, "
                        "active, created_at, session_version) VALUES "
                        "('r@example.se', 'R', 'x', 'reviewer', true, "
                        "CURRENT_TIMESTAMP, 0), ('p@example.se', 'P', 'x', "
                        "'publisher', true, CURRENT_TIMESTAMP, 0)"
                    )
                )
            downgrade(revision="c6e1f0a2b9d3")
            with db.engine.connect() as conn:
                after = conn.execute(
                    text("SELECT email, is_admin, active FROM editor ORDER BY id")
                ).all()
                title = conn.execute(text("SELECT title FROM issue")).scalar()
        assert roles == [("e0@example.se", "admin"), ("e1@example.se", "editor")]
        assert issue == ("Mars", 4, "", None)
        assert [(e, bool(a), bool(on)) for e, a, on in after] == [
            ("e0@example.se", True, True),
            ("e1@example.se", False, True),
            ("r@example.se", False, False),  # the old release cannot limit them
            ("p@example.se", False, True),
        ]
        assert title == "Mars"
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_images_pdf_editions_and_api_keys_arrive_without_touching_items(
    database_url,
):
    app = create_app(base_config(database_url))
    _empty_database(app)
    contents = (
        "SELECT issue.title, item.title, item.body, item.contact_phone, link.url "
        "FROM issue JOIN item ON item.issue_id = issue.id "
        "JOIN link ON link.item_id = item.id ORDER BY link.id"
    )
    try:
        with app.app_context():
            upgrade(revision="5a042d167bc3")  # the previous release
            with db.engine.begin() as conn:
                for statement in (
                    "INSERT INTO theme (id, slug, name, description, position, "
                    "active, updated_at) VALUES (1, 'aldre', 'Äldre', '', 0, true, "
                    "CURRENT_TIMESTAMP)",
                    "INSERT INTO issue (id, title, slug, intro, preheader, status, "
                    "created_at, updated_at, updated_by, version, approved_by) "
                    "VALUES (1, 'Februari', 'februari', '', '', 'sent', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '', 3, '')",
                    "INSERT INTO item (id, issue_id, theme_id, position, title, body, "
                    "contact_name, contact_phone, contact_email, updated_at, "
                    "updated_by, version) VALUES (1, 1, 1, 0, 'Träffpunkt', "
                    "'Välkommen', 'Maria Svensson', '0480-837 78', "
                    "'maria@example.se', CURRENT_TIMESTAMP, '', 2)",
                    "INSERT INTO link (id, item_id, position, label, url) VALUES "
                    "(1, 1, 0, 'Program', 'https://example.se/program'), "
                    "(2, 1, 1, 'Anmälan', 'https://example.se/anmalan')",
                ):
                    conn.execute(text(statement))
                before = conn.execute(text(contents)).all()
            upgrade()
            with db.engine.begin() as conn:
                after_upgrade = conn.execute(text(contents)).all()
                image = conn.execute(
                    text(
                        "SELECT image, image_alt, image_decorative, image_width "
                        "FROM item"
                    )
                ).one()
                for statement in (
                    "UPDATE item SET image = 'abc', image_alt = 'Ett foto', "
                    "image_width = 1200, image_height = 800",
                    "INSERT INTO issue_pdf (issue_id, stamp, filename, size, "
                    "built_at) VALUES (1, 's', 'februari-abc.pdf', 10, "
                    "CURRENT_TIMESTAMP)",
                    "INSERT INTO api_key (name, prefix, key_hash, created_at, "
                    "created_by) VALUES ('Webbplatsen', 'nl_ab', 'h', "
                    "CURRENT_TIMESTAMP, 'admin')",
                ):
                    conn.execute(text(statement))
            downgrade(revision="5a042d167bc3")
            with db.engine.connect() as conn:
                after_downgrade = conn.execute(text(contents)).all()
            tables = set(inspect(db.engine).get_table_names())
        assert len(before) == 2
        assert after_upgrade == after_downgrade == before
        assert tuple(image) == ("", "", False, None)
        assert not {"issue_pdf", "api_key"} & tables
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()


def test_the_search_index_arrives_holding_the_published_issues_and_leaves(
    database_url,
):
    # The upgrade indexes what was published before it (a backfill in the
    # migration itself); drafts and cancelled issues stay out.
    from newsletter.services import search

    app = create_app(base_config(database_url))
    _empty_database(app)
    contents = (
        "SELECT item.id, item.title, item.body, issue.status FROM item "
        "JOIN issue ON issue.id = item.issue_id ORDER BY item.id"
    )
    try:
        with app.app_context():
            upgrade(revision="fe54d12de68a")  # the previous release
            with db.engine.begin() as conn:
                for statement in (
                    "INSERT INTO theme (id, slug, name, description, position, "
                    "active, updated_at) VALUES (1, 'aldre', 'Äldre', '', 0, true, "
                    "CURRENT_TIMESTAMP)",
                    "INSERT INTO issue (id, title, slug, intro, preheader, status, "
                    "created_at, updated_at, updated_by, version, approved_by, "
                    "published_at) VALUES "
                    "(1, 'Februari', 'februari', 'Vårens **nyheter**', '', 'sent', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '', 3, '', "
                    "CURRENT_TIMESTAMP), "
                    "(2, 'Utkast', 'utkast', '', '', 'draft', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP, '', 1, '', NULL), "
                    "(3, 'Inställt', 'installt', '', '', 'cancelled', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '', 1, '', "
                    "CURRENT_TIMESTAMP)",
                    "INSERT INTO item (id, issue_id, theme_id, position, title, body, "
                    "contact_name, contact_phone, contact_email, updated_at, "
                    "updated_by, version) VALUES (1, 1, 1, 0, 'Träffpunkter', "
                    "'<p>Mötesplatser för äldre</p>', 'Maria Svensson', '', '', "
                    "CURRENT_TIMESTAMP, '', 2), (2, 2, 1, 0, 'Hemlig träffpunkt', "
                    "'', '', '', '', CURRENT_TIMESTAMP, '', 1), (3, 3, 1, 0, "
                    "'Inställd träffpunkt', '', '', '', '', CURRENT_TIMESTAMP, '', 1)",
                    "INSERT INTO link (id, item_id, position, label, url) VALUES "
                    "(1, 1, 0, 'Anmälan', 'https://example.se/anmalan')",
                ):
                    conn.execute(text(statement))
                before = conn.execute(text(contents)).all()
            upgrade()
            with app.test_request_context():
                found = {
                    word: [
                        (hit.issue_slug, hit.item_id)
                        for hit in search.search(word).hits
                    ]
                    for word in ("äldres", "träffpunkten", "anmälans", "svensson")
                }
                intro = search.search("nyheterna").hits
                db.session.remove()  # its open transaction would block the drop
            with db.engine.connect() as conn:
                assert conn.execute(text(contents)).all() == before
            downgrade(revision="fe54d12de68a")
            with db.engine.connect() as conn:
                assert conn.execute(text(contents)).all() == before
            tables = set(inspect(db.engine).get_table_names())
        assert found == {
            "äldres": [("februari", 1)],
            "träffpunkten": [("februari", 1)],
            "anmälans": [("februari", 1)],
            "svensson": [("februari", 1)],
        }
        assert [(hit.issue_slug, hit.item_id) for hit in intro] == [("februari", None)]
        assert not {t for t in tables if t.startswith("search_")}
    finally:
        _empty_database(app)
        with app.app_context():
            db.engine.dispose()
