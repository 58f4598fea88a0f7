"""The JSON API as another site uses it: sign-up, errors, CORS, archive, keys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from newsletter import consent_text
from newsletter.config import ConfigError
from newsletter.extensions import db
from newsletter.models import (
    ApiKey,
    AuditEvent,
    ConsentEvent,
    OutboundMessage,
    Subscriber,
    Suppression,
)
from newsletter.models.review import Correction
from newsletter.models.types import utcnow
from newsletter.services import api_keys, media, subscriptions
from tests.conftest import csrf_token_from
from tests.factories import PASSWORD, make_editor, make_subscriber
from tests.test_archive import publish
from tests.test_media import photo

SITE = "https://www.region.example.se"
OTHER = "https://evil.example.com"
URL = "/api/v1/subscriptions"


@pytest.fixture
def api_app(make_app) -> Flask:
    return make_app(API_CORS_ORIGINS=f"{SITE}/, https://INTRANET.example.se:443")


def post(client, body, origin: str | None = SITE, **kwargs):
    headers = {"Origin": origin} if origin else {}
    return client.post(URL, json=body, headers=headers, **kwargs)


def messages(app: Flask, address: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboundMessage.template).where(
                    OutboundMessage.to_address == address
                )
            )
        )


def test_a_sign_up_starts_the_double_opt_in_and_records_where_it_came_from(
    api_app,
):
    client = api_app.test_client()
    response = post(
        client,
        {
            "email": "Ny.Person@Example.SE",
            "name": "Ny",
            "themes": ["aldre"],
            "language": "en",
            "consent_text_version": consent_text.VERSION,
        },
    )
    assert response.status_code == 202
    assert response.json["status"] == "accepted"
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in response.headers["Vary"]
    assert messages(api_app, "ny.person@example.se") == ["confirm_subscription"]
    with api_app.app_context():
        person = db.session.scalar(select(Subscriber))
        assert (person.status, person.language) == ("pending", "en")
        assert [t.slug for t in person.themes] == ["aldre"]
        event = db.session.scalar(select(ConsentEvent))
        assert event.how == f"API {SITE}"
        assert event.consent_version == consent_text.VERSION
        assert event.consent_text == consent_text.consent_text("en")


def test_left_out_themes_mean_every_active_theme(api_app):
    assert post(api_app.test_client(), {"email": "a@example.se"}).status_code == 202
    with api_app.app_context():
        person = db.session.scalar(select(Subscriber))
        assert len(person.themes) == 3 and person.language == "sv"


@pytest.mark.parametrize(
    "state", ["new", "pending", "confirmed", "unsubscribed", "bounced", "suppressed"]
)
def test_every_address_state_gets_the_identical_answer(api_app, state):
    address = "person@example.se"
    with api_app.app_context():
        if state == "suppressed":
            db.session.add(Suppression(email_hash=subscriptions.address_hash(address)))
            db.session.commit()
        elif state != "new":
            make_subscriber(address, status=state)
    response = post(api_app.test_client(), {"email": address})
    reference = post(api_app.test_client(), {"email": "someone@example.se"})

    def seen(answer):
        headers = sorted(
            (k, v) for k, v in answer.headers.items() if k != "Content-Length"
        )
        return answer.status_code, answer.get_data(), headers

    assert seen(response) == seen(reference)
    assert response.status_code == 202
    assert "Set-Cookie" not in response.headers


def test_the_api_never_reads_or_sets_the_session_cookie(app, admin):
    client = admin.client
    assert client.get_cookie("session") is not None
    for answer in (
        client.post(URL, json={"email": "x@example.se"}),
        client.get("/api/v1/themes"),
        client.get("/api/v1/nothing-here"),
    ):
        assert "Set-Cookie" not in answer.headers
        assert "Cookie" not in answer.headers.get("Vary", "")
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "subscriber.requested")
        )
        assert entry.actor_kind == "public"  # not the logged-in administrator


def test_a_remember_me_cookie_logs_nobody_in_through_the_api(app, client):
    with app.app_context():
        make_editor(email="eva@example.se")
    client.post(
        "/editor/login",
        data={
            "csrf_token": csrf_token_from(client),
            "email": "eva@example.se",
            "password": PASSWORD,
            "remember": "y",
        },
    )
    replay = app.test_client()
    replay.set_cookie("remember_token", client.get_cookie("remember_token").value)
    answer = replay.post(URL, json={"email": "x@example.se"})
    assert answer.status_code == 202
    assert "Set-Cookie" not in answer.headers
    with app.app_context():
        kinds = db.session.scalars(
            select(AuditEvent.actor_kind).where(
                AuditEvent.action == "subscriber.requested"
            )
        ).all()
    assert kinds == ["public"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "email", "Fyll i din e-postadress."),
        ({"email": "not an address"}, "email", "Fyll i en giltig e-postadress."),
        ({"email": "a@example.se", "themes": []}, "themes", "Välj minst ett tema."),
        ({"email": "a@example.se", "themes": ["nope"]}, "themes", "nope"),
        ({"email": "a@example.se", "themes": "aldre"}, "themes", "slug"),
        ({"email": "a@example.se", "language": "de"}, "language", "sv, en"),
        ({"email": "a@example.se", "name": "x" * 121}, "name", "120"),
        ({"email": "a@example.se", "consent_text_version": "1999"}, "consent", ""),
        ({"email": "a@example.se", "newsletter": True}, "newsletter", ""),
    ],
)
def test_invalid_fields_are_named_with_a_message(api_app, body, field, message):
    response = post(api_app.test_client(), body)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/json"
    fields = response.json["fields"]
    named = next(name for name in fields if name.startswith(field))
    assert message in fields[named]
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    with api_app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == 0


def test_errors_speak_english_when_the_sign_up_does(api_app):
    response = post(api_app.test_client(), {"email": "nej", "language": "en"})
    assert response.json["fields"]["email"] == "Enter a valid email address."


def test_wrong_content_types_and_bodies_are_refused_with_json(api_app):
    client = api_app.test_client()
    form = client.post(URL, data={"email": "a@example.se"})
    assert form.status_code == 415 and "error" in form.json
    bad = client.post(URL, data="{nope", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.json["error"]
    listed = client.post(URL, json=["a@example.se"])
    assert listed.status_code == 400
    huge = client.post(URL, json={"email": "a@example.se", "name": "x" * 20000})
    assert huge.status_code == 413 and "16 kB" in huge.json["error"]
    with api_app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == 0


def test_other_methods_and_addresses_under_the_api_answer_json(api_app):
    client = api_app.test_client()
    wrong = client.get(URL)
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert wrong.json["error"]
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.json["error"]
    assert client.get("/api/v1/issues/no-such-issue").status_code == 404
    assert client.get("/api/v1/issues?page=x").json["error"]
    # The site's own pages keep their HTML error pages.
    assert "text/html" in client.get("/no-such-page").headers["Content-Type"]


def test_a_preflight_from_a_listed_origin_is_allowed(api_app):
    response = api_app.test_client().options(
        URL,
        headers={
            "Origin": "https://intranet.example.se",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == "https://intranet.example.se"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in headers


def test_a_preflight_from_another_origin_is_refused(api_app):
    response = api_app.test_client().options(
        URL,
        headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert OTHER in response.json["error"]


def test_a_sign_up_from_another_origin_is_refused_before_anything_is_stored(
    api_app,
):
    response = post(api_app.test_client(), {"email": "a@example.se"}, origin=OTHER)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert messages(api_app, "a@example.se") == []


def test_a_server_without_an_origin_header_may_sign_people_up(api_app):
    response = post(api_app.test_client(), {"email": "a@example.se"}, origin=None)
    assert response.status_code == 202
    with api_app.app_context():
        assert db.session.scalar(select(ConsentEvent.how)) == "API"


def test_the_public_archive_may_be_read_from_any_origin(api_app):
    client = api_app.test_client()
    response = client.get("/api/v1/themes", headers={"Origin": OTHER})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/api/v1/issues",
        headers={"Origin": OTHER, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("*", "wildcard"),
        ("https://example.se/signup", "scheme://host"),
        ("example.se", "scheme://host"),
        ("ftp://example.se", "scheme://host"),
        ("https://user@example.se", "scheme://host"),
    ],
)
def test_a_bad_cors_origin_stops_the_start(make_app, value, problem):
    with pytest.raises(ConfigError, match="NEWSLETTER_API_CORS_ORIGINS") as error:
        make_app(API_CORS_ORIGINS=value)
    assert problem in str(error.value)


def test_cors_origins_are_normalised_as_browsers_send_them(api_app):
    from newsletter.config import settings_of

    assert settings_of(api_app).cors_origins() == {
        SITE,
        "https://intranet.example.se",
    }


def archive_app(make_app) -> Flask:
    app = make_app(BASE_URL="https://nyhetsbrev.example.se")
    with app.app_context():
        start = datetime(2025, 1, 15, 8, 0, tzinfo=UTC)
        for n in range(12):
            publish(f"Nyhetsbrev {n:02}", start + timedelta(days=30 * n))
    return app


def test_issues_are_listed_newest_first_with_page_links(make_app):
    client = archive_app(make_app).test_client()
    first = client.get("/api/v1/issues").json
    assert first["pages"] == 2 and len(first["issues"]) == 10
    assert first["issues"][0]["title"] == "Nyhetsbrev 11"
    assert first["links"]["next"].endswith("/api/v1/issues?page=2")
    assert "prev" not in first["links"]
    second = client.get(first["links"]["next"]).json
    assert [i["title"] for i in second["issues"]] == ["Nyhetsbrev 01", "Nyhetsbrev 00"]
    assert client.get("/api/v1/issues?page=3").status_code == 404


def test_an_issue_has_its_themes_items_sanitised_html_and_corrections(make_app):
    app = make_app(BASE_URL="https://nyhetsbrev.example.se")
    with app.app_context():
        issue_id = publish(
            "Nyhetsbrev mars",
            datetime(2026, 3, 1, tzinfo=UTC),
            contact_email="karin@example.se",
        )
        from newsletter.models import Item

        item = db.session.scalar(select(Item).where(Item.theme.has(slug="aldre")))
        item.body += " <script>alert(1)</script> [y](javascript:alert(1))"
        stored = media.store_image(photo())
        item.image, item.image_alt = stored.name, "Deltagare vid ett bord"
        item.image_width, item.image_height = stored.size_at(1200)
        db.session.add(Correction(issue_id=issue_id, item_id=item.id, note="Ny tid"))
        db.session.commit()
        item_id = item.id
    body = app.test_client().get("/api/v1/issues/nyhetsbrev-mars").json
    assert [t["slug"] for t in body["themes"]] == ["barn-och-unga", "aldre"]
    shown = body["themes"][1]["items"][0]
    assert "<strong>webbinarium</strong>" in shown["html"]
    assert "<script" not in shown["html"]
    assert '<a href="javascript' not in shown["html"]
    assert shown["contact"]["name"] == "Karin Ek"
    assert shown["links"] == [{"label": "Anmälan", "url": "https://example.se/anmalan"}]
    assert shown["image"]["alt"] == "Deltagare vid ett bord"
    assert shown["image"]["url"] == (
        f"https://nyhetsbrev.example.se/media/{stored.variant(1200)}"
    )
    assert [v["width"] for v in shown["image"]["srcset"]] == [600, 1200]
    assert body["themes"][0]["items"][0]["image"] is None
    assert shown["permalink"] == (
        f"https://nyhetsbrev.example.se/archive/nyhetsbrev-mars#item-{item_id}"
    )
    assert body["corrections"][0]["note"] == "Ny tid"


def test_archive_answers_are_cacheable_and_conditional(make_app):
    client = archive_app(make_app).test_client()
    for url in ("/api/v1/issues", "/api/v1/issues/nyhetsbrev-03", "/api/v1/themes"):
        first = client.get(url)
        assert first.status_code == 200
        assert first.headers["Cache-Control"].startswith("public")
        assert first.headers["Content-Type"] == "application/json"
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.get_data() == b""
        since = client.get(
            url, headers={"If-Modified-Since": first.headers["Last-Modified"]}
        )
        assert since.status_code == 304


def test_the_consent_text_is_served_with_its_version(api_app):
    body = api_app.test_client().get("/api/v1/consent-text?language=en").json
    assert body == {
        "version": consent_text.VERSION,
        "language": "en",
        "text": consent_text.consent_text("en"),
    }


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_opens_the_figures_and_they_count_confirmed_subscribers(app):
    with app.app_context():
        make_subscriber("a@example.se", themes=("aldre",))
        make_subscriber("b@example.se", themes=("aldre", "barn-och-unga"))
        make_subscriber("c@example.se", themes=("aldre",), status="pending")
        make_subscriber("d@example.se", themes=("aldre",), status="unsubscribed")
        key = api_keys.create_key("Regionens webb", by="test").key
        db.session.commit()
    response = app.test_client().get("/api/v1/stats", headers=bearer(key))
    assert response.status_code == 200
    body = response.json
    assert body["confirmed_subscribers"] == 2
    counts = {t["slug"]: t["confirmed_subscribers"] for t in body["themes"]}
    assert counts == {"aldre": 2, "barn-och-unga": 1, "psykisk-halsa": 0}
    text = response.get_data(as_text=True)
    assert "example.se" not in text.replace("nyhetsbrev", "")
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nlk_wrong", "Basic dXNlcjpwYXNz", "Bearer revoked"],
)
def test_no_valid_key_gets_401_with_a_bearer_challenge(app, header):
    with app.app_context():
        made = api_keys.create_key("Gammal", by="test")
        api_keys.revoke_key(made.row.id, utcnow())
        db.session.commit()
    headers = {}
    if header:
        headers["Authorization"] = header.replace("revoked", made.key)
    response = app.test_client().get("/api/v1/stats", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"]


def test_a_key_is_stored_only_as_its_hash_and_its_use_noted_once_a_minute(app):
    with app.app_context():
        made = api_keys.create_key("Intranät", by="test")
        db.session.commit()
        row = db.session.get(ApiKey, made.row.id)
        assert row.key_hash == hashlib.sha256(made.key.encode()).hexdigest()
        assert made.key not in (row.prefix, row.key_hash)
        assert made.key.startswith(row.prefix)
        now = utcnow()
        assert api_keys.authenticate(made.key, now).last_used_at == now
        later = now + timedelta(seconds=30)
        assert api_keys.authenticate(made.key, later).last_used_at == now
        after = now + timedelta(minutes=2)
        assert api_keys.authenticate(made.key, after).last_used_at == after
