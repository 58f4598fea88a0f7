"""A new link to one's own page: old links die on leaving, the data page does not."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import (
    AuditEvent,
    ConsentEvent,
    OutboundMessage,
    PendingSignUp,
    Subscriber,
)
from newsletter.services import subscriptions
from newsletter.services.tokens import make_token
from tests.conftest import csrf_token_from
from tests.factories import make_subscriber
from tests.smtp import SMTPServer
from tests.test_subscriptions import (
    CSRF_VALUE,
    answer_link_requests,
    outbound,
    sign_up,
)
from tests.test_subscriptions import (
    ask_for_a_new_link as post_new_link_form,
)

SITE = "https://nyhetsbrev.example.se"


def ask_for_a_new_link(client: FlaskClient, email: str) -> TestResponse:
    """Ask for a new link and follow the answer to the page it leads to."""
    asked = post_new_link_form(client, email)
    assert asked.status_code == 303
    assert asked.location == "/subscribe/check-inbox?link=1"
    return client.get(asked.location)


def links_of(app: Flask, email: str) -> dict[str, str]:
    """The current preference and unsubscribe paths of a subscriber."""
    with app.app_context():
        found = db.session.scalars(select(Subscriber).filter_by(email=email)).one()
        return {
            purpose: f"/{purpose}/"
            + make_token(purpose, found.id, found.token_version, found.email)
            for purpose in ("preferences", "unsubscribe")
        }


def page_link_in(smtp_server: SMTPServer) -> str:
    """The path of the personal page link in the last email sent."""
    text = smtp_server.sink.messages()[-1].get_body(("plain",)).get_content()
    return re.search(re.escape(SITE) + r"(/preferences/\S+)", text).group(1)


def older_than_throttle(app: Flask) -> None:
    """Move every queued email 16 minutes back, past the throttle's window."""
    with app.app_context():
        for message in db.session.scalars(select(OutboundMessage)):
            message.created_at -= timedelta(minutes=16)
        db.session.commit()


def test_an_unsubscribed_person_gets_a_new_link_to_see_download_and_erase_their_data(
    mail_app: Flask, smtp_server: SMTPServer
) -> None:
    """One click in the mail program unsubscribes and kills the old links; the
    page of the dead link sends a fresh one to the person's own page."""
    with mail_app.app_context():
        make_subscriber("greta@example.se", name="Greta Grön", language="en")
    old = links_of(mail_app, "greta@example.se")
    one_click = mail_app.test_client(use_cookies=False).post(
        old["unsubscribe"], data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200
    client = mail_app.test_client()
    dead = client.get(old["preferences"])
    assert dead.status_code == 410
    assert "Länken fungerar inte längre" in dead.get_data(as_text=True)
    assert "till din sida med dina teman och uppgifter" in dead.get_data(as_text=True)
    token = csrf_token_from(client, old["preferences"])
    asked = client.post(
        "/confirm/resend",
        data={"csrf_token": token, "email": "greta@example.se"},
        follow_redirects=True,
    )
    assert asked.status_code == 200
    assert smtp_server.sink.received == []  # the web process never sends
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    assert message["To"] == "greta@example.se"
    assert message["Subject"] == "Your link to your data at Nyhetsbrev"
    assert "List-Unsubscribe" not in message
    text = message.get_body(("plain",)).get_content()
    assert "You no longer subscribe" in text
    page = page_link_in(smtp_server)
    assert client.get(old["preferences"]).status_code == 410  # the old one stays dead
    shown = client.get(page)
    assert shown.status_code == 200
    body = shown.get_data(as_text=True)
    assert "greta@example.se" in body and "You no longer subscribe" in body
    assert 'href="/subscribe"' in body  # the way back in
    data = json.loads(client.get(f"{page}/data.json").get_data(as_text=True))
    assert data["profile"]["email"] == "greta@example.se"
    assert data["profile"]["status"] == "unsubscribed"
    # Asking for the link is no consent to anything: nothing new in that history.
    assert [e["kind"] for e in data["consent_history"]] == ["unsubscribed"]
    csrf = csrf_token_from(client, page)
    erased = client.post(f"{page}/erase", data={"csrf_token": csrf, "sure": "y"})
    assert erased.status_code == 200
    with mail_app.app_context():
        assert db.session.scalars(select(Subscriber)).all() == []
    assert client.get(page).status_code == 410


def test_a_subscriber_who_lost_their_links_gets_one_to_their_page(
    mail_app: Flask, smtp_server: SMTPServer
) -> None:
    """A confirmed person gets the same kind of email, in their language."""
    with mail_app.app_context():
        make_subscriber("anna@example.se")
    client = mail_app.test_client()
    ask_for_a_new_link(client, "anna@example.se")
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    assert message["Subject"] == "Din länk till dina uppgifter hos Nyhetsbrev"
    text = message.get_body(("plain",)).get_content()
    assert "ändra dina teman" in text
    html = message.get_body(("html",)).get_content()
    assert "Öppna min sida" in html
    page = page_link_in(smtp_server)
    shown = client.get(page).get_data(as_text=True)
    assert (
        "anna@example.se" in shown
        and "Spara mina val" in shown
        and "Avsluta prenumerationen" in shown
    )


def make_state(app: Flask, email: str, state: str) -> None:
    """An address in one of the states a visitor may type."""
    if state == "unknown":
        return
    with app.app_context():
        status = "unsubscribed" if state in ("held sign-up", "erased") else state
        subscriber = make_subscriber(email, status=status)
        if state == "held sign-up":
            db.session.add(PendingSignUp(subscriber_id=subscriber.id, theme_ids=[1]))
        if state == "erased":
            subscriptions.erase(subscriber, by="the subscriber")
        db.session.commit()


@pytest.mark.parametrize(
    ("state", "templates"),
    [
        ("pending", ["confirm_subscription"]),
        ("held sign-up", ["confirm_subscription"]),
        ("confirmed", ["page_link"]),
        ("unsubscribed", ["page_link"]),
        ("bounced", []),
        ("unknown", []),
        ("erased", []),
    ],
)
def test_the_worker_sends_the_link_that_fits_the_address(
    app: Flask, state: str, templates: list[str]
) -> None:
    """A confirmation where a sign-up waits, the person's page where there is a
    person, and nothing to strangers, erased or bouncing addresses."""
    make_state(app, "person@example.se", state)
    assert ask_for_a_new_link(app.test_client(), "person@example.se").status_code == 200
    answer_link_requests(app)
    assert [m.template for m in outbound(app)] == templates


@pytest.mark.parametrize(
    "state",
    ["pending", "held sign-up", "confirmed", "unsubscribed", "bounced", "erased"],
)
def test_asking_for_a_new_link_answers_the_same_for_every_address(
    app: Flask, state: str
) -> None:
    """The page says nothing about the address: it is the same, byte for byte."""
    make_state(app, "person@example.se", state)
    answer = ask_for_a_new_link(app.test_client(), "person@example.se")
    reference = ask_for_a_new_link(app.test_client(), "nobody@example.se")
    assert answer.status_code == reference.status_code == 200
    assert CSRF_VALUE.sub(r"\1X", answer.get_data(as_text=True)) == CSRF_VALUE.sub(
        r"\1X", reference.get_data(as_text=True)
    )
    assert "en ny länk" in answer.get_data(as_text=True)


def test_links_to_the_own_page_are_throttled_like_confirmations(
    app: Flask, client: FlaskClient
) -> None:
    """One email per 15 minutes and three a day, whatever form asked for it."""
    with app.app_context():
        make_subscriber("anna@example.se")
    for _ in range(2):
        ask_for_a_new_link(client, "anna@example.se")
        answer_link_requests(app)
    assert [m.template for m in outbound(app)] == ["page_link"]
    older_than_throttle(app)
    for _ in range(4):
        ask_for_a_new_link(client, "anna@example.se")
        answer_link_requests(app)
        older_than_throttle(app)
    assert [m.template for m in outbound(app)] == ["page_link"] * 3
    with app.app_context():
        trail = db.session.scalars(
            select(AuditEvent.changes)
            .where(AuditEvent.action == "subscriber.page_link_requested")
            .order_by(AuditEvent.id)
        ).all()
        assert [c["email"][1] for c in trail] == ["queued", "not sent (throttled)"] + [
            "queued",
            "queued",
            "not sent (throttled)",
            "not sent (throttled)",
        ]
        # Nobody asked to subscribe: no consent event says so.
        assert db.session.scalars(select(ConsentEvent)).all() == []


def test_a_sign_up_email_counts_against_the_page_link_throttle(
    app: Flask, client: FlaskClient
) -> None:
    """The "already subscribed" email and a page link share one throttle."""
    with app.app_context():
        make_subscriber("anna@example.se")
    sign_up(client, "anna@example.se")
    ask_for_a_new_link(client, "anna@example.se")
    answer_link_requests(app)
    assert [m.template for m in outbound(app)] == ["already_subscribed"]


def test_an_old_unsubscribe_link_offers_a_new_link(
    app: Flask, client: FlaskClient
) -> None:
    """Somebody who left finds the way to their page from the unsubscribe link
    of any old issue, before and after pressing its button."""
    with app.app_context():
        make_subscriber("anna@example.se")
    old = links_of(app, "anna@example.se")
    client.post(old["unsubscribe"], data={"List-Unsubscribe": "One-Click"})
    shown = client.get(old["unsubscribe"]).get_data(as_text=True)
    assert "prenumererar inte (längre)" in shown
    assert 'action="/confirm/resend"' in shown
    token = csrf_token_from(client, old["unsubscribe"])
    pressed = client.post(old["unsubscribe"]).get_data(as_text=True)
    assert 'action="/confirm/resend"' in pressed
    asked = client.post(
        "/confirm/resend",
        data={"csrf_token": token, "email": "anna@example.se"},
        follow_redirects=True,
    )
    assert asked.status_code == 200
    answer_link_requests(app)
    assert [m.template for m in outbound(app)] == ["page_link"]


def test_a_mistyped_address_in_the_form_gets_a_plain_answer(app, client):
    """The form also stands on pages whose link still worked: its errors do not say
    that a link is dead."""
    token = csrf_token_from(client, "/confirm/expired")
    answer = client.post(
        "/confirm/resend", data={"csrf_token": token, "email": "inte-en-adress"}
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "<h1>Få en ny länk</h1>" in page
    assert "Länken fungerar inte längre" not in page
    assert 'action="/confirm/resend"' in page


def test_the_answer_says_how_often_a_link_is_sent_and_why_a_link_died(app, client):
    """A second request soon after an email gets none (the throttle), and the
    page says so for everybody; a dead link names an ended subscription too."""
    page = ask_for_a_new_link(client, "vem@example.se").get_data(as_text=True)
    assert "högst ett sådant meddelande var 15:e minut" in page
    dead = client.get("/preferences/inte-en-giltig-lank").get_data(as_text=True)
    assert "hör till en prenumeration som har avslutats" in dead
