"""Configuration: defaults, environment variables, and refusing to start unsafely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from argon2 import extract_parameters, profiles
from flask import Flask

from newsletter import create_app
from newsletter.config import ConfigError, settings_of, update_settings
from newsletter.models import Editor
from tests.conftest import base_config


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY", raising=False)
    monkeypatch.delenv("NEWSLETTER_ENV", raising=False)
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET_KEY is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})


def test_development_makes_up_a_stable_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLETTER_ENV", "development")
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    first = create_app(config)
    second = create_app(config)
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


def test_environment_variables_override_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", "2525")
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://nyhetsbrev.example.se/")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SMTP_PORT"] == 2525
    assert app.config["BASE_URL"] == "https://nyhetsbrev.example.se"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_a_bad_number_in_the_environment_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x")
    monkeypatch.setenv("NEWSLETTER_SMTP_PORT", "twenty-five")
    with pytest.raises(ConfigError, match="NEWSLETTER_SMTP_PORT must be a number"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})


def test_sqlite_runs_in_wal_mode(sqlite_app):
    from sqlalchemy import text

    from newsletter.extensions import db

    with sqlite_app.app_context():
        mode = db.session.execute(text("PRAGMA journal_mode")).scalar()
        keys = db.session.execute(text("PRAGMA foreign_keys")).scalar()
    assert (mode, keys) == ("wal", 1)


def test_healthz_reports_a_reachable_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert (response.json["status"], response.json["database"]) == ("ok", "ok")


def test_cookie_settings_from_the_environment_keep_their_type(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x")
    monkeypatch.setenv("NEWSLETTER_SESSION_COOKIE_SAMESITE", "Strict")
    monkeypatch.setenv("NEWSLETTER_SESSION_COOKIE_SECURE", "true")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_behind_a_proxy_the_client_address_comes_from_the_proxy(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x")
    monkeypatch.setenv("NEWSLETTER_PROXY_FIX_X_FOR", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})

    @app.get("/whoami")
    def whoami() -> str:
        from flask import request

        return request.remote_addr or ""

    response = app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert response.get_data(as_text=True) == "203.0.113.7"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NEWSLETTER_SMTP_PORT", "70000", "NEWSLETTER_SMTP_PORT must be from 1 to"),
        ("NEWSLETTER_SMTP_PORT", "25.5", "NEWSLETTER_SMTP_PORT must be a number"),
        ("NEWSLETTER_WORKER_BATCH_SIZE", "0", "WORKER_BATCH_SIZE must be at least 1"),
        ("NEWSLETTER_RETRY_BASE_SECONDS", "nan", "RETRY_BASE_SECONDS must be a number"),
        ("NEWSLETTER_RATE_PER_HOUR", "-5", "NEWSLETTER_RATE_PER_HOUR must be at least"),
        ("NEWSLETTER_FEED_IMPORT_ALLOW_PRIVATE", "maybe", "must be true or false"),
        ("NEWSLETTER_LANGUAGES", "sv,en", "NEWSLETTER_LANGUAGES must be a list"),
        ("NEWSLETTER_SMTP_SECURITY", "ssl", "must be none, starttls or tls, got 'ssl'"),
        (
            "NEWSLETTER_DOMAIN_RATE_LIMITS",
            "gmail.com=20/s; outlook.com=10/day",
            "DOMAIN_RATE_LIMITS: 'outlook.com=10/day' must be DOMAIN=NUMBER/s",
        ),
        (
            "NEWSLETTER_DOMAIN_RATE_LIMITS",
            "gmail.com=0/s",
            "DOMAIN_RATE_LIMITS: 'gmail.com=0/s' must allow more than 0",
        ),
    ],
)
def test_a_bad_setting_in_the_environment_stops_the_start_naming_it(
    monkeypatch, tmp_path, variable, value, message
):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})


def test_a_bad_setting_given_in_code_is_named_like_its_variable(tmp_path):
    config = {
        "SECRET_KEY": "x",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        "SMTP_PORT": "abc",
    }
    with pytest.raises(ConfigError, match="NEWSLETTER_SMTP_PORT must be a number"):
        create_app(config)


def test_settings_are_read_once_into_typed_values(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x")
    monkeypatch.setenv("NEWSLETTER_SMTP_TIMEOUT", "12.5")
    monkeypatch.setenv("NEWSLETTER_WORKER_BATCH_SIZE", "20")
    monkeypatch.setenv("NEWSLETTER_FEED_IMPORT_ALLOW_PRIVATE", "yes")
    monkeypatch.setenv("NEWSLETTER_LANGUAGES", '["sv"]')
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    settings = settings_of(app)
    assert settings.smtp_timeout == 12.5
    assert settings.worker_batch_size == 20
    assert settings.feed_import_allow_private is True
    assert settings.languages == ("sv",)
    assert app.config["WORKER_BATCH_SIZE"] == 20  # the keys stay readable as before


def test_domain_rate_limits_are_read_per_second_per_hour_and_per_minute(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x")
    monkeypatch.setenv(
        "NEWSLETTER_DOMAIN_RATE_LIMITS",
        "gmail.com=20/s; Outlook.com = 120/min; företag.se=3600/h;",
    )
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert settings_of(app).domain_rates() == {
        "gmail.com": 20.0,
        "outlook.com": 2.0,
        "xn--fretag-wxa.se": 1.0,  # addresses are stored with ASCII domains
    }


def test_settings_never_show_the_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "top-secret-key")
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "smtp-password")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    shown = repr(settings_of(app))
    assert "top-secret-key" not in shown and "smtp-password" not in shown


def test_a_changed_setting_is_checked_like_one_given_at_start(sqlite_app):
    update_settings(sqlite_app, BASE_URL="https://nyhetsbrev.example.se/")
    assert settings_of(sqlite_app).base_url == "https://nyhetsbrev.example.se"
    assert sqlite_app.config["BASE_URL"] == "https://nyhetsbrev.example.se"
    with pytest.raises(ConfigError, match="NEWSLETTER_WORKER_BATCH_SIZE must be"):
        update_settings(sqlite_app, WORKER_BATCH_SIZE=-1)
    assert settings_of(sqlite_app).worker_batch_size == 200


def production_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **config: str
) -> Flask:
    """Create an app configured as in production, with these settings on top."""
    for name in ("PASSWORD_HASH_PROFILE", "TESTING", "ENV"):
        monkeypatch.delenv(f"NEWSLETTER_{name}", raising=False)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x")
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **config}
    )


def test_passwords_are_hashed_with_argon2s_recommended_cost_outside_tests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Production hashes with RFC 9106's recommended Argon2id parameters."""
    with production_app(monkeypatch, tmp_path).app_context():
        editor = Editor()
        editor.set_password("correct horse battery")
        assert editor.check_password("correct horse battery")
    stored = extract_parameters(editor.password_hash)
    assert stored == profiles.RFC_9106_LOW_MEMORY


def test_test_apps_hash_passwords_with_the_cheapest_parameters(tmp_path: Path) -> None:
    """The suite logs in hundreds of times: its apps hash cheaply."""
    app = create_app(base_config(f"sqlite:///{tmp_path}/x.db"))
    with app.app_context():
        editor = Editor()
        editor.set_password("correct horse battery")
        assert editor.check_password("correct horse battery")
    assert extract_parameters(editor.password_hash) == profiles.CHEAPEST


def test_the_cheapest_password_hashing_is_refused_outside_tests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A copied test setting cannot weaken the passwords of a real installation."""
    with pytest.raises(ConfigError, match="CHEAPEST .* only with TESTING"):
        production_app(monkeypatch, tmp_path, PASSWORD_HASH_PROFILE="CHEAPEST")


def test_an_unknown_password_hash_profile_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A mistyped profile name stops the start instead of hashing some other way."""
    with pytest.raises(ConfigError, match="must be one of .*RFC_9106_LOW_MEMORY"):
        production_app(monkeypatch, tmp_path, PASSWORD_HASH_PROFILE="RFC_9106")
