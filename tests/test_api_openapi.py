"""The OpenAPI description: valid, complete, and true of the real answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from newsletter.extensions import db
from newsletter.services import api_keys
from tests.test_archive import publish

HIDDEN = {"HEAD", "OPTIONS"}


def description(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def test_the_description_is_valid_openapi_3_1(client):
    spec = description(client)
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_api_route_is_described_and_every_description_is_a_route(app, client):
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule): {
            m.lower() for m in rule.methods - HIDDEN
        }
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    described = {
        path: set(operations)
        for path, operations in description(client)["paths"].items()
    }
    assert described == routes


def schema_of(spec: dict, path: str, method: str, status: str) -> dict:
    answer = spec["paths"][path][method]["responses"][status]
    schema = answer["content"]["application/json"]["schema"]
    # Resolve #/components/... references against the whole description.
    return {**schema, "components": spec["components"]}


def check(spec: dict, path: str, method: str, response) -> None:
    status = str(response.status_code)
    validator = Draft202012Validator(schema_of(spec, path, method, status))
    errors = [e.message for e in validator.iter_errors(response.json)]
    assert not errors, (path, status, errors)


@pytest.fixture
def filled_app(make_app):
    app = make_app(
        BASE_URL="https://nyhetsbrev.example.se",
        API_CORS_ORIGINS="https://www.region.example.se",
    )
    with app.app_context():
        publish("Nyhetsbrev mars", datetime(2026, 3, 1, tzinfo=UTC))
        app.extensions["test_key"] = api_keys.create_key("Test", by="test").key
        db.session.commit()
    return app


def test_real_answers_match_the_described_schemas(filled_app):
    client = filled_app.test_client()
    spec = description(client)
    key = filled_app.extensions["test_key"]
    sign_up = "/api/v1/subscriptions"
    cases = [
        ("/api/v1/issues", "get", client.get("/api/v1/issues")),
        ("/api/v1/issues", "get", client.get("/api/v1/issues?page=9")),
        (
            "/api/v1/issues/{slug}",
            "get",
            client.get("/api/v1/issues/nyhetsbrev-mars"),
        ),
        ("/api/v1/themes", "get", client.get("/api/v1/themes")),
        ("/api/v1/consent-text", "get", client.get("/api/v1/consent-text")),
        (
            "/api/v1/stats",
            "get",
            client.get("/api/v1/stats", headers={"Authorization": f"Bearer {key}"}),
        ),
        ("/api/v1/stats", "get", client.get("/api/v1/stats")),
        (sign_up, "post", client.post(sign_up, json={"email": "a@example.se"})),
        (sign_up, "post", client.post(sign_up, json={"email": "nope"})),
        (sign_up, "post", client.post(sign_up, data="x", content_type="text/plain")),
        (
            sign_up,
            "post",
            client.post(
                sign_up,
                json={"email": "b@example.se"},
                headers={"Origin": "https://other.example.com"},
            ),
        ),
    ]
    statuses = set()
    for path, method, response in cases:
        check(spec, path, method, response)
        statuses.add(response.status_code)
    assert statuses == {200, 202, 401, 403, 404, 415, 422}


def test_the_sign_up_schema_accepts_what_the_api_accepts(client):
    spec = description(client)
    schema = {
        **spec["components"]["schemas"]["SignUp"],
        "components": spec["components"],
    }
    validator = Draft202012Validator(schema)
    good = {"email": "a@example.se", "themes": ["aldre"], "language": "en"}
    assert validator.is_valid(good)
    assert client.post("/api/v1/subscriptions", json=good).status_code == 202
    bad = {"email": "a@example.se", "extra": 1}
    assert not validator.is_valid(bad)
    assert client.post("/api/v1/subscriptions", json=bad).status_code == 422
