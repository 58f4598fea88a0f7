"""API keys as administrators handle them: made on a page or by command, shown once,
listed by their beginning, revoked for good; and the API's throttles."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import ApiKey, AuditEvent, OutboundMessage
from newsletter.services.api_keys import KEY_START

KEY = re.compile(rf"{KEY_START}[A-Za-z0-9_-]{{43}}")


def stats(app, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return app.test_client().get("/api/v1/stats", headers=headers).status_code


ONCE = re.compile(r'name="once"[^>]*value="([^"]+)"')


def make_key(admin, name: str):
    """Open the page and send its form, as a browser does."""
    page = admin.get("/editor/api-keys").get_data(as_text=True)
    return admin.post(
        "/editor/api-keys", data={"name": name, "once": ONCE.search(page)[1]}
    )


def test_an_administrator_makes_a_key_that_is_shown_only_once(app, admin):
    made = make_key(admin, "Regionens webb")
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    shown = KEY.findall(made.get_data(as_text=True))
    assert len(shown) == 1
    key = shown[0]
    # Kept nowhere else: not in the session cookie, which is signed, not encrypted.
    assert key not in str(made.headers)
    with app.app_context():
        row = db.session.scalar(select(ApiKey))
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert row.created_by == "admin@example.se"
    listing = admin.get("/editor/api-keys").get_data(as_text=True)
    assert key not in listing
    assert "Kopiera nyckeln nu" not in listing
    assert row.prefix in listing and "Regionens webb" in listing
    assert stats(app, key) == 200
    assert "Aldrig" not in admin.get("/editor/api-keys").get_data(as_text=True)


def test_reloading_the_page_after_making_a_key_makes_no_second_key(app, admin):
    page = admin.get("/editor/api-keys").get_data(as_text=True)
    form = {"name": "Regionens webb", "once": ONCE.search(page)[1]}
    made = admin.post("/editor/api-keys", data=form)
    assert len(KEY.findall(made.get_data(as_text=True))) == 1
    reloaded = admin.post("/editor/api-keys", data=form, follow_redirects=True)
    body = reloaded.get_data(as_text=True)
    assert "Formuläret har redan skickats" in body
    assert not KEY.search(body)
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiKey.id))) == 1
        created = select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "api_key.created"
        )
        assert db.session.scalar(created) == 1


def test_a_key_needs_a_name(admin):
    refused = admin.post("/editor/api-keys", data={"name": "  "})
    assert refused.status_code == 422
    assert "Ange vem eller vad" in refused.get_data(as_text=True)
    assert not KEY.search(refused.get_data(as_text=True))


def test_a_revoked_key_stops_working_and_both_steps_are_in_the_audit_trail(app, admin):
    key = KEY.findall(make_key(admin, "Intranätet").get_data(as_text=True))[0]
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id))
    done = admin.post(f"/editor/api-keys/{key_id}/revoke", follow_redirects=True)
    assert done.status_code == 200
    assert "Intranätet" in done.get_data(as_text=True)
    assert stats(app, key) == 401
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "api_key")
        ).all()
    assert sorted(actions) == ["api_key.created", "api_key.revoked"]
    assert admin.post("/editor/api-keys/999/revoke").status_code == 404


def test_only_administrators_reach_the_keys(app, editor):
    assert editor.get("/editor/api-keys").status_code == 403
    assert editor.post("/editor/api-keys", data={"name": "x"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiKey.id))) == 0


def test_keys_from_the_command_line(app):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["api-keys", "create", "Statistikverktyget"])
    assert made.exit_code == 0, made.output
    key = KEY.findall(made.output)[0]
    assert stats(app, key) == 200
    listed = runner.invoke(args=["api-keys", "list"])
    assert "Statistikverktyget" in listed.output and key not in listed.output
    assert key[:12] in listed.output and "active" in listed.output
    key_id = re.search(r"API key (\d+)", made.output).group(1)
    revoked = runner.invoke(args=["api-keys", "revoke", key_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert stats(app, key) == 401
    missing = runner.invoke(args=["api-keys", "revoke", "999"])
    assert missing.exit_code != 0 and "no API key" in missing.output


@pytest.mark.real_commits  # the limits count in the database on their own connection
def test_sign_ups_through_the_api_are_throttled_per_client_with_json(make_app):
    site = "https://www.region.example.se"
    app = make_app(
        RATELIMIT_ENABLED=True,
        SIGNUP_RATE_LIMIT="2 per minute",
        API_CORS_ORIGINS=site,
    )
    client = app.test_client()
    codes = [
        client.post(
            "/api/v1/subscriptions",
            json={"email": f"p{n}@example.se"},
            headers={"Origin": site},
        )
        for n in range(3)
    ]
    assert [c.status_code for c in codes] == [202, 202, 429]
    refused = codes[2]
    assert refused.headers["Content-Type"] == "application/json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Vänta en stund" in refused.json["error"]
    # The calling page's script can read the refusal and when to try again.
    assert refused.headers["Access-Control-Allow-Origin"] == site
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]
    # A preflight is not a sign-up: it does not use up the allowance.
    assert client.options("/api/v1/subscriptions").status_code == 200


@pytest.mark.real_commits
def test_one_address_gets_one_confirmation_email_per_interval(make_app):
    app = make_app()
    client = app.test_client()
    answers = {
        client.post("/api/v1/subscriptions", json={"email": "p@example.se"}).status_code
        for _ in range(3)
    }
    assert answers == {202}
    with app.app_context():
        sent = db.session.scalar(select(func.count(OutboundMessage.id)))
    assert sent == 1
