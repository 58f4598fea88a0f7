"""Logging in and out, and keeping every editor page behind login and CSRF."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import AuditEvent, Editor
from tests.conftest import csrf_token_from, log_in
from tests.factories import PASSWORD, make_editor, make_issue, make_item

SAMPLE_ARGS = {
    "issue_id": 1,
    "item_id": 1,
    "theme_id": 1,
    "editor_id": 1,
    "subscriber_id": 1,
    "draft_id": 1,
    "contact_id": 1,
    "link_id": 1,
    "proposal_id": 1,
    "comment_id": 1,
    "number": 1,
    "key_id": 1,
}


def editor_rules(app):
    """Yield (url, method) for every editor URL except the login form."""
    for rule in app.url_map.iter_rules():
        if (
            not rule.endpoint.startswith("editor.")
            or rule.endpoint == "editor.auth.login"
        ):
            continue
        url = rule.build({k: SAMPLE_ARGS[k] for k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield url, method


def test_every_editor_url_refuses_anonymous_visitors(app, client):
    with app.app_context():
        issue = make_issue()
        make_item(issue)
        make_editor()
    rules = list(editor_rules(app))
    assert len(rules) > 15
    # A valid CSRF token, so that it is the login check that refuses a POST.
    token = csrf_token_from(client)
    for url, method in rules:
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/editor/login?next="), url


def test_login_and_logout(app, client):
    with app.app_context():
        make_editor(email="eva@example.se", name="Eva Editor")
    session = log_in(client, "EVA@example.se ")
    page = session.get("/editor/").get_data(as_text=True)
    assert "Eva Editor" in page
    copied = client.get_cookie("session").value  # say, from a shared computer
    response = session.post("/editor/logout")
    assert response.status_code == 302
    assert session.get("/editor/").status_code == 302
    # Logging out ends the session itself, not only this browser's cookie.
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get("/editor/").status_code == 302


def test_a_remember_me_cookie_dies_at_logout(app, client):
    with app.app_context():
        make_editor(email="eva@example.se")
    token = csrf_token_from(client)
    client.post(
        "/editor/login",
        data={
            "csrf_token": token,
            "email": "eva@example.se",
            "password": "correct horse battery",
            "remember": "y",
        },
    )
    remembered = client.get_cookie("remember_token").value
    client.post(
        "/editor/logout", data={"csrf_token": csrf_token_from(client, "/editor/")}
    )
    replay = app.test_client()
    replay.set_cookie("remember_token", remembered)
    assert replay.get("/editor/").status_code == 302


def test_the_csrf_token_changes_at_login(app, client):
    with app.app_context():
        make_editor(email="eva@example.se")
    before = csrf_token_from(client)
    log_in(client, "eva@example.se")
    with client.session_transaction() as stored:
        assert stored["csrf_token"] != before_raw(app, before)


def before_raw(app, signed: str) -> str:
    """The session value behind a signed CSRF form token."""
    from itsdangerous import URLSafeTimedSerializer

    serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
    return serializer.loads(signed)


@pytest.mark.parametrize("email", ["eva@example.se", "nobody@example.se"])
def test_wrong_credentials_get_one_message_that_reveals_nothing(app, client, email):
    with app.app_context():
        make_editor(email="eva@example.se")
    token = csrf_token_from(client)
    response = client.post(
        "/editor/login",
        data={"csrf_token": token, "email": email, "password": "wrong password"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Fel e-postadress eller lösenord." in body
    assert client.get("/editor/").status_code == 302


def test_login_goes_on_to_the_page_asked_for_but_never_off_site(app, client):
    with app.app_context():
        make_editor()
    token = csrf_token_from(client)
    data = {
        "csrf_token": token,
        "email": "editor@example.se",
        "password": "correct horse battery",
    }
    response = client.post("/editor/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/editor/"
    client.post(
        "/editor/logout", data={"csrf_token": csrf_token_from(client, "/editor/")}
    )
    token = csrf_token_from(client)
    data["csrf_token"] = token
    response = client.post("/editor/login?next=/editor/themes", data=data)
    assert response.headers["Location"] == "/editor/themes"


def test_post_without_csrf_token_is_refused(app, editor):
    response = editor.client.post("/editor/issues/new", data={"title": "Utan token"})
    assert response.status_code == 400
    with app.app_context():
        from sqlalchemy import func, select

        from newsletter.models import Issue

        assert db.session.scalar(select(func.count(Issue.id))) == 0


def test_deactivated_editor_loses_the_session(app, editor):
    with app.app_context():
        account = db.session.scalar(
            db.select(Editor).filter_by(email="editor@example.se")
        )
        account.active = False
        db.session.commit()
    assert editor.get("/editor/").status_code == 302


def test_changing_the_password_ends_other_sessions(app, editor):
    other = log_in(app.test_client(), "editor@example.se")
    response = editor.post(
        "/editor/account",
        data={
            "current_password": "correct horse battery",
            "password": "a brand new password",
            "confirm": "a brand new password",
        },
    )
    assert response.status_code == 302
    assert editor.get("/editor/").status_code == 200
    assert other.get("/editor/").status_code == 302


def test_changing_the_password_needs_the_current_one(app, editor):
    response = editor.post(
        "/editor/account",
        data={
            "current_password": "a guess",
            "password": "a brand new password",
            "confirm": "a brand new password",
        },
    )
    assert response.status_code == 422
    assert "Det nuvarande lösenordet är fel." in response.get_data(as_text=True)
    log_in(app.test_client(), "editor@example.se")  # the old password still works


def test_nul_bytes_are_refused_before_they_reach_the_database(app, client, editor):
    assert client.get("/archive/a%00b").status_code == 400
    token = csrf_token_from(client)
    response = client.post(
        "/editor/login",
        data={"csrf_token": token, "email": "a\x00@x.se", "password": "x"},
    )
    assert response.status_code == 400
    assert (
        editor.post("/editor/issues/new", data={"title": "a\x00b"}).status_code == 400
    )


def test_repeated_login_attempts_are_throttled(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    token = csrf_token_from(client)
    codes = [
        client.post(
            "/editor/login",
            data={"csrf_token": token, "email": "x@example.se", "password": "nope"},
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


def login_attempt(app: Flask, email: str, password: str, address: str) -> int:
    """Post the login form from a client address; return the status code."""
    client = app.test_client()
    token = csrf_token_from(client)
    return client.post(
        "/editor/login",
        data={"csrf_token": token, "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def test_login_attempts_on_one_account_from_one_address_are_throttled(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="3 per hour",
    )
    emails = ["eva@example.se", "Eva@Example.se", " EVA@example.se", "eva@example.se"]
    codes = [login_attempt(app, email, "x", "192.0.2.1") for email in emails]
    assert codes == [200, 200, 200, 429]


def test_control_characters_in_the_address_do_not_escape_the_account_limit(
    make_app,
):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="3 per hour",
    )
    with app.app_context():
        make_editor(email="eva@example.se")
    emails = ["eva@example.se", "eva@example.se\x01", "eva@example.se\x1b"]
    codes = [login_attempt(app, email, "wrong", "192.0.2.1") for email in emails]
    assert codes == [200, 200, 200]
    # Authentication reads this as eva@example.se, and so does the limit.
    assert login_attempt(app, "eva@example.se\x01", PASSWORD, "192.0.2.1") == 429


def test_failed_logins_from_one_address_do_not_lock_the_editor_out_elsewhere(
    make_app,
):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="1000 per minute")
    with app.app_context():
        make_editor(email="eva@example.se")
    codes = [
        login_attempt(app, "eva@example.se", "guess", "192.0.2.1") for _ in range(31)
    ]
    assert codes[:30] == [200] * 30 and codes[30] == 429
    assert login_attempt(app, "eva@example.se", PASSWORD, "198.51.100.7") == 302


def login_answer(app: Flask, email: str, password: str, address: str) -> str:
    """Post the login form from a client address; return the status and page."""
    client = app.test_client()
    response = client.post(
        "/editor/login",
        data={
            "csrf_token": csrf_token_from(client),
            "email": email,
            "password": password,
        },
        environ_base={"REMOTE_ADDR": address},
    )
    return f"{response.status_code} {response.get_data(as_text=True)}"


def test_logins_that_succeed_never_count_towards_the_lockout(make_app):
    app = make_app(RATELIMIT_ENABLED=True)  # 10 a minute, 30 an hour per account
    with app.app_context():
        make_editor(email="eva@example.se")
    codes = [
        login_attempt(app, "eva@example.se", PASSWORD, "192.0.2.1") for _ in range(35)
    ]
    assert codes == [302] * 35


def test_ten_failed_logins_from_one_address_still_lock_it_for_a_minute(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    with app.app_context():
        make_editor(email="eva@example.se")
    for number in range(10):
        assert login_attempt(app, f"x{number}@example.se", "x", "192.0.2.1") == 200
    refused = login_answer(app, "eva@example.se", PASSWORD, "192.0.2.1")
    assert refused.startswith("429 ")
    assert "För många försök. Vänta en stund och försök igen." in refused
    assert "Du kan försöka igen om" in refused


def test_a_login_that_succeeds_gives_a_guesser_no_more_tries(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="1000 per minute")
    with app.app_context():
        make_editor(email="eva@example.se")
    codes = [
        login_attempt(app, "eva@example.se", "guess", "192.0.2.1") for _ in range(29)
    ]
    codes.append(login_attempt(app, "eva@example.se", PASSWORD, "192.0.2.1"))
    codes.append(login_attempt(app, "eva@example.se", "guess", "192.0.2.1"))
    assert codes == [200] * 29 + [302, 200]
    refused = login_answer(app, "eva@example.se", PASSWORD, "192.0.2.1")
    assert refused.startswith("429 ")
    assert "För många försök" in refused and "försöka igen om 60 minuter" in refused


@pytest.mark.real_commits  # the counts in the database, where a command reaches them
def test_an_administrator_can_lift_a_login_lockout(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="1000 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="3 per hour",
    )
    with app.app_context():
        make_editor(email="eva@example.se")
    for _ in range(3):
        assert login_attempt(app, "eva@example.se", "guess", "192.0.2.1") == 200
    assert login_attempt(app, "eva@example.se", PASSWORD, "192.0.2.1") == 429
    result = app.test_cli_runner().invoke(args=["editors", "unlock", "Eva@Example.se"])
    assert result.exit_code == 0, result.output
    assert "eva@example.se may try again" in result.output
    with app.app_context():
        lifted = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "editor.unlocked")
        ).one()
        assert lifted.object_title == "eva@example.se"
    assert login_attempt(app, "eva@example.se", PASSWORD, "192.0.2.1") == 302
    # The guesses count afresh, to the same limit.
    codes = [
        login_attempt(app, "eva@example.se", "guess", "192.0.2.1") for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


def test_unlocking_an_unknown_address_says_so(app):
    result = app.test_cli_runner().invoke(
        args=["editors", "unlock", "nobody@example.se"]
    )
    assert result.exit_code != 0
    assert "no editor with the address 'nobody@example.se'" in result.output


def test_a_throttled_login_says_when_to_try_again(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="1 per minute")
    assert login_attempt(app, "x@example.se", "nope", "192.0.2.1") == 200
    client = app.test_client()
    response = client.post(
        "/editor/login",
        data={"csrf_token": csrf_token_from(client), "email": "x@example.se"},
        environ_base={"REMOTE_ADDR": "192.0.2.1"},
    )
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Vänta en stund" in response.get_data(as_text=True)


def test_editor_pages_are_not_cached(editor):
    assert editor.get("/editor/").headers["Cache-Control"] == "no-store"


def test_pages_forbid_framing_and_inline_script(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert re.search(r"script-src 'self'(;|$)", policy)


def log_in_remembered(app: Flask) -> tuple[FlaskClient, list[str]]:
    """Log in with "keep me logged in"; return the client and its Set-Cookie lines."""
    with app.app_context():
        make_editor(email="eva@example.se")
    client = app.test_client()
    response = client.post(
        "/editor/login",
        data={
            "csrf_token": csrf_token_from(client),
            "email": "eva@example.se",
            "password": PASSWORD,
            "remember": "y",
        },
    )
    assert response.status_code == 302
    return client, response.headers.getlist("Set-Cookie")


def test_behind_https_browsers_are_told_to_use_only_https(make_app):
    client = make_app(BASE_URL="https://nyhetsbrev.example.se").test_client()
    for url in ("/", "/editor/login", "/feed.xml", "/finns-inte"):
        response = client.get(url)
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_behind_https_the_login_cookies_are_bound_to_this_host(make_app):
    app = make_app(BASE_URL="https://nyhetsbrev.example.se")
    client, cookies = log_in_remembered(app)
    by_name = {line.split("=", 1)[0]: line for line in cookies}
    assert set(by_name) == {"__Host-session", "__Host-remember_token"}
    for line in by_name.values():
        attributes = [part.strip().lower() for part in line.split(";")[1:]]
        assert "secure" in attributes and "path=/" in attributes
        assert not any(part.startswith("domain=") for part in attributes)
    assert client.get("/editor/").status_code == 200
    # A browser closed and opened again: the remember-me cookie logs back in.
    client.delete_cookie("__Host-session")
    assert client.get("/editor/").status_code == 200


def test_over_plain_http_there_is_no_hsts_and_the_cookies_keep_their_names(app):
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers
    client, cookies = log_in_remembered(app)
    assert {line.split("=", 1)[0] for line in cookies} == {"session", "remember_token"}
    assert client.get("/editor/").status_code == 200


def test_unlocking_says_it_cannot_reach_counts_kept_in_memory(app):
    """With memory:// each web process keeps its own counts, which a command in a
    process of its own cannot lift: it says so instead of claiming it did."""
    with app.app_context():
        make_editor(email="eva@example.se", name="Eva")
    result = app.test_cli_runner().invoke(args=["editors", "unlock", "eva@example.se"])
    assert result.exit_code != 0
    assert "restart the web processes" in result.output
    assert "may try again" not in result.output
