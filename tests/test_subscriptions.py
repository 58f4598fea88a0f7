"""Double opt-in, the same answer for every address, tokens, unsubscribe, erase."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from werkzeug.test import TestResponse

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import (
    ConsentEvent,
    LinkRequest,
    OutboundMessage,
    PendingSignUp,
    Subscriber,
    Suppression,
)
from newsletter.models.types import utcnow
from newsletter.services import subscriptions
from newsletter.services.tokens import make_token
from tests.conftest import csrf_token_from
from tests.factories import make_issue, make_item, make_subscriber, theme
from tests.smtp import SMTPServer

CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+"')


def sign_up(client, email: str, themes=None, **extra) -> object:
    """Post the sign-up form the way a browser would, following its redirect."""
    token = csrf_token_from(client, "/subscribe")
    data = {"csrf_token": token, "email": email, "name": "Anna", **extra}
    data["themes"] = themes or ["1", "2", "3"]
    return client.post("/subscribe", data=data, follow_redirects=True)


def outbound(app, template: str | None = None) -> list[OutboundMessage]:
    with app.app_context():
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        if template:
            query = query.where(OutboundMessage.template == template)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def confirmation_link(smtp_server) -> str:
    text = smtp_server.sink.messages()[-1].get_body(("plain",)).get_content()
    return re.search(r"https://nyhetsbrev\.example\.se(/confirm/\S+)", text).group(1)


def test_sign_up_confirm_by_email_then_get_issues(mail_app, smtp_server):
    client = mail_app.test_client()
    response = sign_up(client, "Ny.Person@Example.SE", themes=["3"])
    assert response.status_code == 200
    assert "Titta i din inkorg" in response.get_data(as_text=True)
    assert smtp_server.sink.received == []  # the web process never sends
    Worker(mail_app).run(once=True)
    message = smtp_server.sink.messages()[0]
    assert message["To"] == "ny.person@example.se"  # an unconfirmed name: none
    assert message["Subject"] == "Bekräfta din prenumeration på Nyhetsbrev"
    link = confirmation_link(smtp_server)
    page = client.get(link)  # what a mail scanner's prefetch does
    assert page.status_code == 200 and "Bekräfta min prenumeration" in page.get_data(
        as_text=True
    )
    with mail_app.app_context():
        assert db.session.scalar(select(Subscriber.status)) == "pending"
    token = csrf_token_from(client, link)
    done = client.post(link, data={"csrf_token": token})
    assert done.status_code == 200 and "Du prenumererar nu" in done.get_data(
        as_text=True
    )
    with mail_app.app_context():
        subscriber = db.session.scalar(select(Subscriber))
        assert subscriber.status == "confirmed"
        assert [t.slug for t in subscriber.themes] == ["aldre"]
        kinds = [e.kind for e in subscriber.events]
        assert kinds == ["requested", "confirmed"]
        request = subscriber.events[0]
        assert request.ip == "127.0.0.1" and request.consent_version
        assert "Jag vill få nyhetsbrevet" in request.consent_text
    # Used once: opening it again says the subscription is active (people do).
    again = client.get(link)
    assert again.status_code == 200
    assert "Prenumerationen är redan aktiv" in again.get_data(as_text=True)
    assert "/preferences/" not in again.get_data(as_text=True)
    # Once the person has left, the old link is just a used link.
    with mail_app.app_context():
        subscriber = db.session.scalar(select(Subscriber))
        subscriptions.unsubscribe(subscriber, subscriptions.Origin(), utcnow())
        db.session.commit()
    gone = client.get(link)
    assert gone.status_code == 410
    assert "Länken fungerar inte längre" in gone.get_data(as_text=True)


@pytest.mark.parametrize(
    "state", ["new", "pending", "confirmed", "unsubscribed", "bounced"]
)
def test_every_address_state_gets_the_same_answer(app, client, state):
    if state != "new":
        with app.app_context():
            make_subscriber("person@example.se", status=state)
    response = sign_up(client, "person@example.se")
    body = CSRF_VALUE.sub(r"\1X", response.get_data(as_text=True))
    reference = sign_up(app.test_client(), "someone.else@example.se")
    expected = CSRF_VALUE.sub(r"\1X", reference.get_data(as_text=True))
    assert (response.status_code, body) == (reference.status_code, expected)
    (redirect,) = response.history
    (reference_redirect,) = reference.history
    assert answer_but_cookie(redirect) == answer_but_cookie(reference_redirect)


def answer_but_cookie(response) -> tuple[int, list[tuple[str, str]], bytes]:
    """A response's status, headers and body, less the session cookie (its CSRF
    token differs between any two visitors)."""
    headers = [(k, v) for k, v in response.headers if k != "Set-Cookie"]
    return response.status_code, headers, response.get_data()


def test_reloading_the_page_after_signing_up_signs_up_no_one_again(app, client):
    """The POST redirects; what F5 repeats is a GET that changes nothing."""
    token = csrf_token_from(client, "/subscribe")
    data = {"csrf_token": token, "email": "anna@example.se", "themes": ["1"]}
    posted = client.post("/subscribe", data=data)
    assert posted.status_code == 303
    assert posted.headers["Location"] == "/subscribe/check-inbox"
    assert "anna" not in posted.headers["Location"]
    for _reload in range(2):
        page = client.get(posted.headers["Location"])
        assert page.status_code == 200
        assert "Titta i din inkorg" in page.get_data(as_text=True)
    assert [m.to_address for m in outbound(app)] == ["anna@example.se"]
    with app.app_context():
        assert db.session.scalar(select(func.count(ConsentEvent.id))) == 1


def run_statements(app: Flask, action: Callable[[], object]) -> list[str]:
    """Return the SQL statements an action runs, values left as placeholders."""
    seen = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def count_statements(app: Flask, action: Callable[[], object]) -> int:
    """Count the SQL statements an action runs."""
    return len(run_statements(app, action))


@pytest.mark.real_commits  # counts the statements the app runs, without savepoints
def test_no_address_state_makes_the_sign_up_do_extra_work(app):
    with app.app_context():
        make_subscriber("pending@example.se", status="pending")
        make_subscriber("confirmed@example.se", status="confirmed")
        make_subscriber("gone@example.se", status="unsubscribed")
        make_subscriber("bounced@example.se", status="bounced")
    counts = {}
    for address in ("new@example.se", "pending@example.se", "confirmed@example.se",
                    "gone@example.se", "bounced@example.se"):  # fmt: skip
        client = app.test_client()
        token = csrf_token_from(client, "/subscribe")
        data = {"csrf_token": token, "email": address, "themes": ["1"]}
        counts[address] = count_statements(
            app, lambda c=client, d=data: c.post("/subscribe", data=d)
        )
    assert len(set(counts.values())) == 1, counts


def test_what_each_state_is_sent(app):
    with app.app_context():
        make_subscriber("pending@example.se", status="pending")
        make_subscriber("confirmed@example.se", themes=("aldre",))
        make_subscriber("gone@example.se", status="unsubscribed")
    for address in ("new@example.se", "pending@example.se", "confirmed@example.se",
                    "gone@example.se"):  # fmt: skip
        sign_up(app.test_client(), address, themes=["1"])
    sent = {m.to_address: m.template for m in outbound(app)}
    assert sent == {
        "new@example.se": "confirm_subscription",
        "pending@example.se": "confirm_subscription",
        "confirmed@example.se": "already_subscribed",
        "gone@example.se": "confirm_subscription",
    }
    with app.app_context():
        confirmed = db.session.scalar(
            select(Subscriber).filter_by(email="confirmed@example.se")
        )
        # An anonymous request never changes a confirmed subscriber's choices.
        assert [t.slug for t in confirmed.themes] == ["aldre"]
        assert confirmed.status == "confirmed"
        gone = db.session.scalar(select(Subscriber).filter_by(email="gone@example.se"))
        assert gone.status == "unsubscribed"  # until the new opt-in is confirmed


def test_confirmation_emails_to_one_address_are_throttled(app):
    for _ in range(3):
        assert sign_up(app.test_client(), "busy@example.se").status_code == 200
    assert len(outbound(app)) == 1  # one per 15 minutes
    with app.app_context():
        for message in db.session.scalars(select(OutboundMessage)):
            message.created_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
    sign_up(app.test_client(), "busy@example.se")
    with app.app_context():
        for message in db.session.scalars(select(OutboundMessage)):
            message.created_at = message.created_at - timedelta(minutes=16)
        db.session.commit()
    sign_up(app.test_client(), "busy@example.se")
    assert len(outbound(app)) == 3
    with app.app_context():
        for message in db.session.scalars(select(OutboundMessage)):
            message.created_at = message.created_at - timedelta(minutes=30)
        db.session.commit()
    sign_up(app.test_client(), "busy@example.se")
    assert len(outbound(app)) == 3  # three per day


def test_sign_ups_are_rate_limited_per_address_of_the_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT="2 per minute")
    client = app.test_client()
    codes = [sign_up(client, f"p{n}@example.se").status_code for n in range(3)]
    assert codes == [200, 200, 429]


def test_the_honeypot_answers_the_same_and_stores_nothing(app, client):
    response = sign_up(client, "robot@example.se", website="https://spam.example")
    assert response.status_code == 200
    assert "Titta i din inkorg" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == 0


def test_an_embedded_form_lands_on_our_form_filled_in_and_changes_nothing(app, client):
    response = client.post(
        "/subscribe", data={"email": "extern@example.se", "themes": ["2"]}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="extern@example.se"' in body
    assert "Kontrollera dina uppgifter" in body
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == 0


def test_invalid_sign_up_input_is_explained(app, client):
    token = csrf_token_from(client, "/subscribe")
    response = client.post(
        "/subscribe", data={"csrf_token": token, "email": "inte en adress"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Fyll i en giltig e-postadress." in body
    assert "Välj minst ett tema." in body


def test_tampered_and_expired_confirmation_links_offer_a_new_one(app, client):
    with app.app_context():
        subscriber = make_subscriber("p@example.se", status="pending")
        good = make_token(
            "confirm", subscriber.id, subscriber.token_version, subscriber.email
        )
        other_purpose = make_token(
            "preferences", subscriber.id, subscriber.token_version, subscriber.email
        )
    assert client.get(f"/confirm/{good[:-2]}xx").status_code == 410
    assert client.get(f"/confirm/{other_purpose}").status_code == 410
    import time as time_module

    real = time_module.time
    try:
        time_module.time = lambda: real() + 49 * 3600
        response = client.get(f"/confirm/{good}")
    finally:
        time_module.time = real
    assert response.status_code == 410
    assert "äldre än 48 timmar" in response.get_data(as_text=True)
    token = csrf_token_from(client, f"/confirm/{good[:-2]}xx")
    response = client.post(
        "/confirm/resend", data={"csrf_token": token, "email": "p@example.se"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/subscribe/check-inbox?link=1"
    answer_link_requests(app)
    assert [m.template for m in outbound(app)] == ["confirm_subscription"]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_needs_no_cookie_and_is_idempotent(app, encoding):
    with app.app_context():
        subscriber = make_subscriber()
        token = make_token(
            "unsubscribe", subscriber.id, subscriber.token_version, subscriber.email
        )
    client = app.test_client(use_cookies=False)
    kwargs = {"data": {"List-Unsubscribe": "One-Click"}}
    if encoding == "multipart":
        kwargs["content_type"] = "multipart/form-data"
    for _ in range(2):
        response = client.post(f"/unsubscribe/{token}", **kwargs)
        assert response.status_code == 200
        assert "Location" not in response.headers
    with app.app_context():
        subscriber = db.session.scalar(select(Subscriber))
        assert subscriber.status == "unsubscribed"
        assert [e.kind for e in subscriber.events] == ["unsubscribed"]
        assert subscriber.events[0].how == "one-click (RFC 8058)"


def test_the_unsubscribe_link_opens_a_page_whose_button_unsubscribes(app, client):
    with app.app_context():
        subscriber = make_subscriber()
        token = make_token(
            "unsubscribe", subscriber.id, subscriber.token_version, subscriber.email
        )
    page = client.get(f"/unsubscribe/{token}")
    assert "Avsluta prenumerationen" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Subscriber.status)) == "confirmed"
    response = client.post(f"/unsubscribe/{token}")
    assert "Du har avslutat prenumerationen" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Subscriber.status)) == "unsubscribed"


def test_unsubscribing_stops_an_issue_that_is_already_being_sent(mail_app, smtp_server):
    from newsletter.services import sending

    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        leaving = make_subscriber("leaving@example.se")
        make_subscriber("staying@example.se")
        token = make_token(
            "unsubscribe", leaving.id, leaving.token_version, leaving.email
        )
        sending.start_sending(issue.id, utcnow())
        sending.fan_out(issue.id, utcnow())
        db.session.commit()
    mail_app.test_client().post(
        f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
    )
    Worker(mail_app).run(once=True)
    assert smtp_server.sink.recipients() == ["staying@example.se"]


def test_preferences_change_name_themes_and_language(app, client):
    with app.app_context():
        subscriber = make_subscriber(themes=("aldre",))
        token = make_token(
            "preferences", subscriber.id, subscriber.token_version, subscriber.email
        )
    page = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert "anna@example.se" in page
    csrf = csrf_token_from(client, f"/preferences/{token}")
    response = client.post(
        f"/preferences/{token}",
        data={
            "csrf_token": csrf,
            "name": "Anna A",
            "themes": [
                str(theme_id(app, "barn-och-unga")),
                str(theme_id(app, "aldre")),
            ],
            "language": "en",
        },
    )
    assert response.status_code == 200
    assert '<html lang="en">' in response.get_data(as_text=True)  # at once
    with app.app_context():
        subscriber = db.session.scalar(select(Subscriber))
        assert subscriber.name == "Anna A" and subscriber.language == "en"
        assert [t.slug for t in subscriber.themes] == ["barn-och-unga", "aldre"]
        assert subscriber.events[-1].kind == "preferences_changed"


def test_personal_links_open_in_the_subscribers_language(app, client):
    with app.app_context():
        person = make_subscriber(language="en")
        links = {
            purpose: make_token(purpose, person.id, person.token_version, person.email)
            for purpose in ("preferences", "unsubscribe")
        }
    for url in (f"/preferences/{links['preferences']}",
                f"/unsubscribe/{links['unsubscribe']}"):  # fmt: skip
        assert '<html lang="en">' in client.get(url).get_data(as_text=True), url
    done = client.post(f"/unsubscribe/{links['unsubscribe']}").get_data(as_text=True)
    assert '<html lang="en">' in done and "You are unsubscribed" in done
    # The old preference link died with the unsubscription; the page gives a new
    # one, so the person can still download or erase their data.
    assert client.get(f"/preferences/{links['preferences']}").status_code == 410
    fresh = re.search(r'href="[^"]*(/preferences/[^"]+)"', done).group(1)
    assert client.get(fresh).status_code == 200
    assert client.get(f"{fresh}/data.json").status_code == 200
    # Using the same (now old) link again unsubscribes nothing and offers nothing.
    again = client.post(f"/unsubscribe/{links['unsubscribe']}").get_data(as_text=True)
    assert "/preferences/" not in again
    # A visitor who picked a language with the switch keeps it.
    client.post("/language", data={"lang": "sv", "next": "/"})
    page = client.get(f"/preferences/{links['preferences']}").get_data(as_text=True)
    assert '<html lang="sv">' in page


def theme_id(app, slug: str) -> int:
    with app.app_context():
        return theme(slug).id


def test_download_my_data_contains_profile_consent_and_deliveries(app, client):
    with app.app_context():
        subscriber = make_subscriber()
        token = make_token(
            "preferences", subscriber.id, subscriber.token_version, subscriber.email
        )
    sign_up(app.test_client(), "anna@example.se")  # a request, recorded
    response = client.get(f"/preferences/{token}/data.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = response.json
    assert data["profile"]["email"] == "anna@example.se"
    assert data["themes"] == ["Barn och unga", "Psykisk hälsa", "Äldre"]
    assert data["consent_history"][0]["kind"] == "requested"
    assert data["deliveries"] == []


def test_erase_removes_personal_data_everywhere_and_kills_old_links(app, client):
    with app.app_context():
        subscriber = make_subscriber()
        prefs = make_token(
            "preferences", subscriber.id, subscriber.token_version, subscriber.email
        )
        unsub = make_token(
            "unsubscribe", subscriber.id, subscriber.token_version, subscriber.email
        )
    sign_up(app.test_client(), "anna@example.se")  # leaves an event and a message
    csrf = csrf_token_from(client, f"/preferences/{prefs}")
    refused = client.post(f"/preferences/{prefs}/erase", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert "Kryssa i rutan för att bekräfta." in refused.get_data(as_text=True)
    response = client.post(
        f"/preferences/{prefs}/erase", data={"csrf_token": csrf, "sure": "y"}
    )
    assert response.status_code == 200
    with app.app_context():
        for model in (Subscriber, ConsentEvent, OutboundMessage):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0
        assert db.session.scalar(select(func.count(Suppression.email_hash))) == 1
    assert client.get(f"/preferences/{prefs}").status_code == 410
    assert "prenumererar inte" in client.get(f"/unsubscribe/{unsub}").get_data(
        as_text=True
    )


def test_unconfirmed_sign_ups_are_deleted_after_thirty_days(app):
    with app.app_context():
        old = make_subscriber("old@example.se", status="pending")
        old.created_at = utcnow() - timedelta(days=31)
        make_subscriber("fresh@example.se", status="pending")
        db.session.commit()
    Worker(app).tick()
    with app.app_context():
        assert db.session.scalars(select(Subscriber.email)).all() == [
            "fresh@example.se"
        ]


def test_links_of_an_erased_subscriber_never_work_for_whoever_gets_the_id_next(
    app, client
):
    with app.app_context():
        gone = make_subscriber("gone@example.se", status="pending")
        confirm = make_token("confirm", gone.id, gone.token_version, gone.email)
        prefs = make_token("preferences", gone.id, 2, gone.email)
        subscriptions.erase(gone, by="the subscriber")
        db.session.commit()
        # SQLite hands the highest id out again: the next sign-up gets it.
        make_subscriber("victim@example.se", status="pending")
    token = csrf_token_from(client, "/subscribe")
    assert (
        client.post(f"/confirm/{confirm}", data={"csrf_token": token}).status_code
        == 410
    )
    assert client.get(f"/preferences/{prefs}").status_code == 410
    with app.app_context():
        assert db.session.scalar(select(Subscriber.status)) == "pending"


@pytest.mark.real_commits  # each thread's request has a connection of its own
def test_simultaneous_sign_ups_for_a_new_address_all_get_the_same_answer(make_app):
    import threading

    app = make_app(SIGNUP_RATE_LIMIT="1000 per minute")
    codes: list[int] = []
    clients = [app.test_client() for _ in range(4)]
    tokens = [csrf_token_from(c, "/subscribe") for c in clients]
    start = threading.Barrier(4)

    def post(client, token) -> None:
        start.wait()
        response = client.post(
            "/subscribe",
            data={"csrf_token": token, "email": "race@example.se", "themes": ["1"]},
        )
        codes.append(response.status_code)

    threads = [
        threading.Thread(target=post, args=pair)
        for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [303, 303, 303, 303]
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == 1


@pytest.mark.real_commits  # threads sign up through connections of their own
def test_the_sign_up_service_itself_copes_with_simultaneous_sign_ups(
    app: Flask,
) -> None:
    """No caller needs a retry loop: racing requests for new addresses all succeed."""
    import threading

    from newsletter.services.subscriptions import Origin

    threads_count, rounds = 4, 5
    barriers = [threading.Barrier(threads_count) for _ in range(rounds)]
    failures: list[str] = []

    def sign_up_each_round() -> None:
        for number, barrier in enumerate(barriers):
            barrier.wait()
            with app.app_context():
                try:
                    subscriptions.request_subscription(
                        f"samtidig{number}@example.se",
                        "",
                        [1],
                        "sv",
                        Origin(),
                        utcnow(),
                    )
                    db.session.commit()
                except Exception as error:  # noqa: BLE001 - collected, then asserted
                    failures.append(repr(error))
                    db.session.rollback()

    threads = [
        threading.Thread(target=sign_up_each_round) for _ in range(threads_count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == rounds


def test_a_name_with_line_breaks_cannot_stop_the_confirmation_email(
    mail_app, smtp_server
):
    client = mail_app.test_client()
    sign_up(client, "ok@example.se", name="Anna\r\nBcc: x@example.se")
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    assert message["To"] == "ok@example.se"
    assert message["Bcc"] is None
    with mail_app.app_context():
        assert db.session.scalar(select(Subscriber.name)) == "Anna Bcc: x@example.se"


@pytest.mark.parametrize("state", ["new", "pending", "unsubscribed", "confirmed"])
def test_a_name_given_at_sign_up_never_reaches_the_to_header(
    mail_app: Flask, smtp_server: SMTPServer, state: str
) -> None:
    """Anyone may type any address: its email names nobody, whatever the state."""
    if state != "new":
        with mail_app.app_context():
            make_subscriber("victim@example.se", name="Vera Victim", status=state)
    sign_up(mail_app.test_client(), "victim@example.se",
            name="Eve, Mallory <m@evil.example>")  # fmt: skip
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    assert message["To"] == "victim@example.se"
    assert [a.addr_spec for a in message["To"].addresses] == ["victim@example.se"]


def leaver(app: Flask) -> str:
    """An unsubscribed person with their own choices; return their data-page link."""
    with app.app_context():
        person = make_subscriber("greta@example.se", name="Greta Grön",
                                 themes=("aldre",), status="unsubscribed",
                                 language="en")  # fmt: skip
        person.token_version = 3
        db.session.commit()
        return "/preferences/" + make_token(
            "preferences", person.id, person.token_version, person.email
        )


def person(app: Flask, email: str = "greta@example.se") -> tuple[Any, ...]:
    """Status, name, language, themes and token version of a subscriber."""
    with app.app_context():
        found = db.session.scalar(select(Subscriber).filter_by(email=email))
        if found is None:
            return ()
        themes = [t.slug for t in found.themes]
        return (found.status, found.name, found.language, themes, found.token_version)


def test_an_anonymous_sign_up_leaves_an_unsubscribed_person_as_they_were(
    app: Flask, client: FlaskClient
) -> None:
    """Their name, choices and data page stay until the new link is used."""
    data_page = leaver(app)
    before = person(app)
    response = sign_up(client, "greta@example.se", name="Eve", themes=["1"])
    assert response.status_code == 200
    assert person(app) == before == ("unsubscribed", "Greta Grön", "en", ["aldre"], 3)
    assert client.get(data_page).status_code == 200
    assert client.get(f"{data_page}/data.json").status_code == 200
    assert [m.template for m in outbound(app)] == ["confirm_subscription"]


def test_the_purge_of_stale_sign_ups_keeps_a_person_who_had_left(
    app: Flask, client: FlaskClient
) -> None:
    """A new sign-up left unconfirmed for 31 days deletes only the request."""
    data_page = leaver(app)
    sign_up(client, "greta@example.se", name="Eve", themes=["1"])
    with app.app_context():
        assert subscriptions.purge_unconfirmed(utcnow() + timedelta(days=31)) == 0
        db.session.commit()
        assert db.session.scalars(select(PendingSignUp)).all() == []
    assert person(app) == ("unsubscribed", "Greta Grön", "en", ["aldre"], 3)
    assert client.get(data_page).status_code == 200


def test_the_purge_never_deletes_somebody_who_was_once_confirmed(app: Flask) -> None:
    """Rows an earlier version set back to pending keep their person."""
    with app.app_context():
        for email, field in (("was-confirmed@example.se", "confirmed_at"),
                             ("was-gone@example.se", "unsubscribed_at")):  # fmt: skip
            row = make_subscriber(email, status="pending")
            setattr(row, field, utcnow() - timedelta(days=400))
            row.created_at = utcnow() - timedelta(days=400)
        db.session.commit()
        assert subscriptions.purge_unconfirmed(utcnow()) == 0
        db.session.commit()
        assert db.session.scalar(select(func.count(Subscriber.id))) == 2


def test_confirming_a_sign_up_after_leaving_applies_its_new_choices(
    mail_app: Flask, smtp_server: SMTPServer
) -> None:
    """The link in the new confirmation email brings the requested choices in."""
    leaver(mail_app)
    client = mail_app.test_client()
    barn = str(theme_id(mail_app, "barn-och-unga"))
    sign_up(client, "greta@example.se", name="Greta G", themes=[barn])
    Worker(mail_app).run(once=True)
    link = confirmation_link(smtp_server)
    assert client.get(link).status_code == 200
    assert person(mail_app)[0] == "unsubscribed"
    done = client.post(link, data={"csrf_token": csrf_token_from(client, link)})
    assert done.status_code == 200
    assert person(mail_app) == ("confirmed", "Greta G", "sv", ["barn-och-unga"], 4)
    again = client.get(link)  # opened twice, as people do
    assert "Prenumerationen är redan aktiv" in again.get_data(as_text=True)


def ask_for_a_new_link(client: FlaskClient, email: str) -> TestResponse:
    """Post the "send a new link" form of an expired link's page."""
    token = csrf_token_from(client, "/confirm/expired")
    return client.post("/confirm/resend", data={"csrf_token": token, "email": email})


def answer_link_requests(app: Flask) -> None:
    """Do the worker's part of "send me a new link"."""
    with app.app_context():
        subscriptions.answer_link_requests(utcnow())
        db.session.commit()


def statements_and_rows(
    app: Flask, action: Callable[[], object]
) -> list[tuple[str, int | None]]:
    """Return each SQL statement an action runs, with the rows it wrote."""
    seen = []
    with app.app_context():
        engine = db.engine

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Note a statement, and its row count when it writes."""
        writes = statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")
        seen.append((statement, cursor.rowcount if writes else None))

    event.listen(engine, "after_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(engine, "after_cursor_execute", listener)
    return seen


@pytest.mark.real_commits  # compares the statements the app runs, without savepoints
def test_asking_for_a_new_link_does_the_same_work_for_every_address_state(
    app: Flask,
) -> None:
    """The same statements, writing the same rows, whether the address awaits a
    link or not: a pending address may not answer slower."""
    with app.app_context():
        make_subscriber("pending@example.se", status="pending")
        make_subscriber("confirmed@example.se")
        make_subscriber("gone@example.se", status="unsubscribed")
        make_subscriber("bounced@example.se", status="bounced")
    work = {}
    for address in ("pending@example.se", "confirmed@example.se", "gone@example.se",
                    "bounced@example.se", "unknown@example.se"):  # fmt: skip
        client = app.test_client()
        csrf_token_from(client, "/confirm/expired")  # the session, set up before
        work[address] = statements_and_rows(
            app, lambda c=client, a=address: ask_for_a_new_link(c, a)
        )
    reference = work.pop("pending@example.se")
    assert any(rows for _statement, rows in reference)  # the request is kept
    for address, statements in work.items():
        assert statements == reference, address
    answer_link_requests(app)
    assert [(m.to_address, m.template) for m in outbound(app)] == [
        ("pending@example.se", "confirm_subscription"),
        ("confirmed@example.se", "page_link"),
        ("gone@example.se", "page_link"),
    ]


def test_a_request_for_a_new_link_is_recorded_in_the_consent_history(
    app: Flask,
) -> None:
    """Who asked for a new confirmation link, from where, is kept like a sign-up."""
    with app.app_context():
        make_subscriber("pending@example.se", status="pending")
    response = ask_for_a_new_link(app.test_client(), "pending@example.se")
    assert response.status_code == 303
    answer_link_requests(app)
    with app.app_context():
        (request,) = db.session.scalars(select(ConsentEvent)).all()
        assert (request.kind, request.how, request.ip) == (
            "requested",
            "new link",
            "127.0.0.1",
        )
        assert db.session.scalars(select(LinkRequest)).all() == []


def test_a_returning_person_can_ask_for_a_new_link_to_their_held_sign_up(
    mail_app: Flask, smtp_server: SMTPServer
) -> None:
    """A held sign-up of an unsubscribed person gets a new link like a pending one."""
    leaver(mail_app)
    client = mail_app.test_client()
    sign_up(client, "greta@example.se", name="Greta G")
    Worker(mail_app).run(once=True)
    with mail_app.app_context():
        for message in db.session.scalars(select(OutboundMessage)):
            message.created_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
    ask_for_a_new_link(client, "greta@example.se")
    Worker(mail_app).run(once=True)
    assert smtp_server.sink.recipients() == ["greta@example.se"] * 2
    assert "/confirm/" in confirmation_link(smtp_server)
    assert person(mail_app)[:2] == ("unsubscribed", "Greta Grön")


def test_choosing_another_email_language_says_the_page_follows_it(
    app: Flask, client: FlaskClient
) -> None:
    """The person's own pages switch with the language of their emails, and say so;
    the rest of the site keeps the visitor's language."""
    with app.app_context():
        subscriber = make_subscriber(themes=("aldre",))
        page = "/preferences/" + make_token(
            "preferences", subscriber.id, subscriber.token_version, subscriber.email
        )
    choices = {"name": "Anna", "themes": [str(theme_id(app, "aldre"))]}
    csrf = csrf_token_from(client, page)
    same = client.post(page, data={**choices, "csrf_token": csrf, "language": "sv"})
    body = same.get_data(as_text=True)
    assert "Dina val är sparade." in body and "på det här språket" not in body
    english = client.post(page, data={**choices, "csrf_token": csrf, "language": "en"})
    body = english.get_data(as_text=True)
    assert '<html lang="en">' in body
    assert (
        "Your choices are saved. The emails now come in this language, and the pages"
        " your links open are shown in it too. The language switch at the top of the"
        " page changes only what you see here, not the emails." in body
    )
    assert '<html lang="sv">' in client.get("/").get_data(as_text=True)
