"""Addresses at internationalised domains are stored in ASCII and shown in Unicode."""

from __future__ import annotations

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import Subscriber
from tests.conftest import csrf_token_from, log_in
from tests.factories import make_editor
from tests.test_subscriptions import confirmation_link, sign_up


def test_a_sign_up_at_an_international_domain_can_be_confirmed(mail_app, smtp_server):
    client = mail_app.test_client()
    assert sign_up(client, "Anna@Företag.se").status_code == 200
    with mail_app.app_context():
        stored = db.session.scalars(select(Subscriber.email)).all()
    assert stored == ["anna@xn--fretag-wxa.se"]
    Worker(mail_app).run(once=True)
    assert smtp_server.sink.recipients() == ["anna@xn--fretag-wxa.se"]
    link = confirmation_link(smtp_server)
    token = csrf_token_from(client, link)
    page = client.post(link, data={"csrf_token": token}).get_data(as_text=True)
    assert "anna@företag.se" in page  # people see the domain as they wrote it
    with mail_app.app_context():
        assert db.session.scalar(select(Subscriber.status)) == "confirmed"


def test_the_same_address_in_either_form_is_one_subscriber(mail_app, smtp_server):
    client = mail_app.test_client()
    sign_up(client, "anna@företag.se")
    sign_up(client, "ANNA@xn--fretag-wxa.se")
    with mail_app.app_context():
        assert db.session.scalars(select(Subscriber.email)).all() == [
            "anna@xn--fretag-wxa.se"
        ]


def test_editors_see_international_domains_in_unicode(app):
    with app.app_context():
        make_editor()
        db.session.add(Subscriber(email="anna@xn--fretag-wxa.se", status="confirmed"))
        db.session.commit()
    editor = log_in(app.test_client(), "editor@example.se")
    assert "anna@företag.se" in editor.get("/editor/subscribers").get_data(as_text=True)
