"""Workers read bounces and complaints from a real IMAP mailbox (dovecot on
loopback) and delete each message only once it is recorded."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from newsletter.config import ConfigError
from newsletter.extensions import db
from newsletter.mail.bounce_mailbox import BounceMailbox
from newsletter.mail.worker import Worker
from newsletter.models import Bounce, Subscriber
from newsletter.models.types import utcnow
from tests.conftest import base_config, build_app, require
from tests.imap import DOVECOT, PASSWORD, URL_PASSWORD, IMAPServer
from tests.smtp import free_port
from tests.test_bounces import returned, send_issue, sent_to


@pytest.fixture(scope="module")
def imap_server() -> Iterator[IMAPServer]:
    """Run dovecot for this module's tests (required in CI)."""
    require(DOVECOT.exists(), f"{DOVECOT} is not installed (Debian's dovecot-imapd)")
    server = IMAPServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(imap_server: IMAPServer) -> IMAPServer:
    """The dovecot server, its inbox emptied."""
    imap_server.empty()
    return imap_server


def status_of(address: str) -> str:
    """Return a subscriber's status, freshly read."""
    db.session.expire_all()
    return db.session.scalar(select(Subscriber.status).filter_by(email=address))


def test_the_worker_records_what_the_mailbox_holds_and_deletes_it(
    make_app, smtp_server, mailbox
):
    app = make_app(SMTP_PORT=smtp_server.port, BOUNCE_MAILBOX_URL=mailbox.url)
    send_issue(app, "anna@example.se", "bo@example.se")
    anna, _ = sent_to(smtp_server.sink, "anna@example.se")
    bo, _ = sent_to(smtp_server.sink, "bo@example.se")
    mailbox.deliver(
        returned("postfix-hard.eml", anna, "anna@example.se"),
        returned("yahoo-complaint.eml", bo, "bo@example.se"),
        returned("out-of-office.eml", anna, "anna@example.se"),
    )
    Worker(app).tick()
    assert mailbox.inbox() == []
    with app.app_context():
        assert status_of("anna@example.se") == "bounced"
        assert status_of("bo@example.se") == "unsubscribed"
        assert len(db.session.scalars(select(Bounce)).all()) == 2


# The app whose database is down has an engine of its own: no rolled-back session.
@pytest.mark.real_commits
def test_a_message_arriving_while_the_database_is_down_stays_in_the_mailbox(
    make_app, smtp_server, mailbox, caplog
):
    app = make_app(SMTP_PORT=smtp_server.port, BOUNCE_MAILBOX_URL=mailbox.url)
    send_issue(app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    dsn = returned("gmail-hard.eml", verp, "anna@example.se")
    mailbox.deliver(dsn)
    unreachable = f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/none"
    down = build_app(
        base_config(unreachable, BOUNCE_MAILBOX_URL=mailbox.url, SMTP_PORT=1)
    )
    worker = Worker(down)
    with down.app_context(), caplog.at_level(logging.WARNING, "newsletter.bounces"):
        assert worker.bounce_mailbox.poll_when_due(utcnow()) == 0
    assert "the database is unreachable" in caplog.text
    assert mailbox.inbox() == [dsn]
    Worker(app).tick()  # the database is back
    assert mailbox.inbox() == []
    with app.app_context():
        assert status_of("anna@example.se") == "bounced"


def test_the_mailbox_is_read_over_tls_with_imaps_checking_the_certificate(
    make_app, smtp_server, mailbox, monkeypatch, caplog
):
    app = make_app(SMTP_PORT=smtp_server.port, BOUNCE_MAILBOX_URL=mailbox.tls_url)
    send_issue(app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    mailbox.deliver(returned("exchange-hard.eml", verp, "anna@example.se"))
    with caplog.at_level(logging.WARNING, "newsletter.bounces"):
        Worker(app).tick()  # a certificate nobody vouches for
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert len(mailbox.inbox()) == 1
    monkeypatch.setenv("SSL_CERT_FILE", str(mailbox.certificate))
    Worker(app).tick()
    assert mailbox.inbox() == []
    with app.app_context():
        assert status_of("anna@example.se") == "bounced"


def test_an_unreachable_mailbox_is_logged_and_the_worker_goes_on(
    make_app, smtp_server, caplog
):
    url = f"imap://bounces:secret@127.0.0.1:{free_port()}/INBOX"
    app = make_app(SMTP_PORT=smtp_server.port, BOUNCE_MAILBOX_URL=url)
    with caplog.at_level(logging.WARNING, "newsletter.bounces"):
        send_issue(app, "anna@example.se")
    assert "bounce mailbox imap://bounces@127.0.0.1" in caplog.text
    assert "secret" not in caplog.text
    assert smtp_server.sink.recipients() == ["anna@example.se"]


def test_a_mailbox_url_carries_percent_encoded_credentials_and_default_ports():
    box = BounceMailbox.from_url(
        "imaps://bounce%40example.se:p%2Fw%20d@mail.example.se"
    )
    assert (box.scheme, box.host, box.port) == ("imaps", "mail.example.se", 993)
    assert (box.username, box.password, box.folder) == (
        "bounce@example.se",
        "p/w d",
        "INBOX",
    )
    plain = BounceMailbox.from_url("imap://u:p@127.0.0.1:1143/Bounces%20In")
    assert (plain.port, plain.folder) == (1143, "Bounces In")
    assert "p/w d" not in repr(box) and "p/w d" not in str(box)
    encoded = BounceMailbox.from_url(f"imap://u:{URL_PASSWORD}@127.0.0.1/INBOX")
    assert encoded.password == PASSWORD


@pytest.mark.parametrize(
    "url", ["https://u:p@host/INBOX", "imaps://host/INBOX", "imaps://u@host/"]
)
def test_a_bad_mailbox_url_stops_the_worker_at_start(tmp_path, url):
    app = build_app(
        base_config(f"sqlite:///{tmp_path / 'x.sqlite3'}", BOUNCE_MAILBOX_URL=url)
    )
    with pytest.raises(ConfigError, match="BOUNCE_MAILBOX_URL"):
        Worker(app)
