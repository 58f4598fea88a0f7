"""Bounces and complaints: VERP envelope senders, and `flask bounces process` reading
DSNs and ARF reports as real mail servers write them (fixtures in tests/bounces/)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.config import ConfigError
from newsletter.extensions import db
from newsletter.mail.verp import read_verp_address, verp_address
from newsletter.mail.worker import Worker
from newsletter.models import (
    Bounce,
    ConsentEvent,
    Delivery,
    OutboundMessage,
    Subscriber,
)
from newsletter.models.types import utcnow
from newsletter.services import bounces, sending
from tests.conftest import base_config, build_app, log_in
from tests.factories import make_editor, make_issue, make_item, make_subscriber
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "bounces"
SECRET = "test-secret-key"  # tests.conftest.base_config's


def returned(name: str, verp: str, recipient: str, message_id: str = "") -> bytes:
    """Fill a returned-message fixture in for one sent message."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    text = text.replace("VERP_ADDRESS", verp).replace("RECIPIENT_ADDRESS", recipient)
    text = text.replace("ORIGINAL_MESSAGE_ID", message_id or "<x@example.se>")
    return text.replace("\n", "\r\n").encode("utf-8")


def send_issue(app, *addresses: str, title: str = "Nyhetsbrev februari 2026") -> int:
    """Send a one-item issue to confirmed subscribers through a real worker."""
    with app.app_context():
        for address in addresses:
            if not db.session.scalar(select(Subscriber.id).filter_by(email=address)):
                make_subscriber(address)
        issue = make_issue(title)
        make_item(issue, "aldre")
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
        issue_id = issue.id
    Worker(app).run(once=True)
    return issue_id


def sent_to(sink, address: str) -> tuple[str, str]:
    """Return the envelope sender and Message-ID of the last message to an address."""
    received = [r for r in sink.received if r.recipient == address][-1]
    return received.mail_from, received.parse()["Message-ID"]


def process(app, raw: bytes, *options: str):
    """Run `flask bounces process` with the message on standard input."""
    return app.test_cli_runner().invoke(
        args=["bounces", "process", *options], input=raw
    )


def subscriber(address: str) -> Subscriber:
    """Return a subscriber by address, freshly read."""
    db.session.expire_all()
    return db.session.scalars(select(Subscriber).filter_by(email=address)).one()


def bounce_rows() -> list[tuple[str, str, str]]:
    """Return (kind, status, reason) of every bounce recorded."""
    db.session.expire_all()
    return [
        (b.kind, b.status, b.reason)
        for b in db.session.scalars(select(Bounce).order_by(Bounce.id))
    ]


def test_every_message_leaves_with_a_signed_envelope_sender_naming_its_row(
    mail_app, smtp_server
):
    issue_id = send_issue(mail_app, "anna@example.se", "bo@example.se")
    with mail_app.app_context():
        deliveries = dict(
            db.session.execute(
                select(Subscriber.email, Delivery.id).join(
                    Delivery, Delivery.subscriber_id == Subscriber.id
                )
            ).all()
        )
        sending.queue_test_send(issue_id, ["test@example.se"], "sv")
        db.session.commit()
        message_id = db.session.scalar(select(OutboundMessage.id))
    Worker(mail_app).run(once=True)
    senders = {r.recipient: r.mail_from for r in smtp_server.sink.received}
    assert len(set(senders.values())) == 3
    for address, sender in senders.items():
        local, domain = sender.split("@")
        assert local.startswith("nyhetsbrev+") and domain == "example.se"
        assert len(local) <= 64
        found = read_verp_address(sender, SECRET)
        if address == "test@example.se":
            assert (found.kind, found.row_id) == ("m", message_id)
        else:
            assert (found.kind, found.row_id) == ("d", deliveries[address])
        # Receiving servers may change the case of a local part.
        assert read_verp_address(sender.upper(), SECRET) == found


def test_a_forged_or_altered_tag_maps_to_nothing():
    real = verp_address("bounces@example.se", SECRET, "d", 42)
    local, domain = real.split("@")
    mac = local[-12:]
    altered_mac = local[:-1] + ("a" if mac[-1] != "a" else "b") + "@" + domain
    other_row = verp_address("bounces@example.se", SECRET, "d", 43)
    swapped = other_row.split("-")[0] + "-" + mac + "@" + domain
    assert read_verp_address(real, SECRET) is not None
    assert read_verp_address(altered_mac, SECRET) is None
    assert read_verp_address(swapped, SECRET) is None
    assert read_verp_address(real, "another-secret") is None
    assert read_verp_address("bounces@example.se", SECRET) is None


def test_a_return_path_too_long_for_the_tag_stops_the_start(tmp_path):
    config = base_config(
        f"sqlite:///{tmp_path / 'x.sqlite3'}",
        RETURN_PATH=f"{'b' * 40}@example.se",
    )
    with pytest.raises(ConfigError, match="RETURN_PATH"):
        build_app(config)


@pytest.mark.parametrize(
    "fixture, status, reason",
    [
        ("postfix-hard.eml", "5.1.1", "User unknown in virtual mailbox table"),
        ("exchange-hard.eml", "5.1.10", "Recipient not found by SMTP address lookup"),
        ("gmail-hard.eml", "5.1.1", "The email account that you tried to reach"),
    ],
)
def test_a_hard_dsn_bounces_the_subscriber_at_once_keeping_the_servers_reason(
    mail_app, smtp_server, fixture, status, reason
):
    send_issue(mail_app, "anna@example.se")
    verp, message_id = sent_to(smtp_server.sink, "anna@example.se")
    result = process(mail_app, returned(fixture, verp, "anna@example.se", message_id))
    assert result.exit_code == 0, result.output
    with mail_app.app_context():
        assert subscriber("anna@example.se").status == "bounced"
        ((kind, found_status, found_reason),) = bounce_rows()
        assert (kind, found_status) == ("hard", status)
        assert reason in found_reason


def test_a_hard_bounce_shows_on_the_subscriber_page_and_the_progress_page(
    mail_app, smtp_server
):
    issue_id = send_issue(mail_app, "anna@example.se", "bo@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    process(mail_app, returned("postfix-hard.eml", verp, "anna@example.se"))
    with mail_app.app_context():
        make_editor()
        subscriber_id = subscriber("anna@example.se").id
    editor = log_in(mail_app.test_client(), "editor@example.se")
    page = editor.get(f"/editor/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "Recipient address rejected: User unknown in virtual mailbox table" in page
    assert "Nyhetsbrev februari 2026" in page and "5.1.1" in page
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith("anna@example.se") and "5.1.1" not in title
    progress = editor.get(f"/editor/issues/{issue_id}/progress").get_data(as_text=True)
    assert '<dd data-report="bounced">1</dd>' in progress
    assert '<dd data-report="complained">0</dd>' in progress


def test_soft_bounces_count_but_bounce_the_subscriber_only_at_the_limit(
    make_app, smtp_server
):
    app = make_app(
        SMTP_PORT=smtp_server.port, MAIL_FROM="nyhetsbrev@example.se", BOUNCE_LIMIT=2
    )
    send_issue(app, "anna@example.se", title="Första")
    first, _ = sent_to(smtp_server.sink, "anna@example.se")
    send_issue(app, "anna@example.se", title="Andra")
    second, _ = sent_to(smtp_server.sink, "anna@example.se")
    assert process(app, returned("postfix-delayed.eml", first, "a")).exit_code == 0
    with app.app_context():
        assert subscriber("anna@example.se").status == "confirmed"
        assert [kind for kind, *_ in bounce_rows()] == ["soft"]
    process(app, returned("postfix-mailbox-full.eml", second, "anna@example.se"))
    with app.app_context():
        assert subscriber("anna@example.se").status == "bounced"
        assert [(k, s) for k, s, _ in bounce_rows()] == [
            ("soft", "4.4.1"),
            ("soft", "5.2.2"),
        ]


def test_soft_bounces_older_than_the_window_no_longer_count(make_app, smtp_server):
    app = make_app(SMTP_PORT=smtp_server.port, BOUNCE_LIMIT=2, BOUNCE_WINDOW_DAYS=30)
    send_issue(app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    process(app, returned("postfix-delayed.eml", verp, "anna@example.se"))
    with app.app_context():
        old = db.session.scalars(select(Bounce)).one()
        old.received_at = utcnow() - timedelta(days=31)
        db.session.commit()
    process(app, returned("postfix-mailbox-full.eml", verp, "anna@example.se"))
    with app.app_context():
        assert subscriber("anna@example.se").status == "confirmed"


def test_a_policy_refusal_is_recorded_but_leaves_the_subscriber(mail_app, smtp_server):
    send_issue(mail_app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    process(mail_app, returned("postfix-policy.eml", verp, "anna@example.se"))
    with mail_app.app_context():
        assert subscriber("anna@example.se").status == "confirmed"
        assert [(k, s) for k, s, _ in bounce_rows()] == [("rejected", "5.7.1")]


@pytest.mark.parametrize("fixture", ["yahoo-complaint.eml", "microsoft-complaint.eml"])
def test_a_complaint_unsubscribes_at_once_and_is_recorded_as_such(
    mail_app, smtp_server, fixture
):
    issue_id = send_issue(mail_app, "anna@example.se", "bo@example.se")
    verp, message_id = sent_to(smtp_server.sink, "anna@example.se")
    with mail_app.app_context():
        version = subscriber("anna@example.se").token_version
    result = process(mail_app, returned(fixture, verp, "anna@example.se", message_id))
    assert result.exit_code == 0, result.output
    with mail_app.app_context():
        person = subscriber("anna@example.se")
        assert person.status == "unsubscribed"
        assert person.token_version == version + 1  # old links stop working
        event = db.session.scalars(
            select(ConsentEvent).order_by(ConsentEvent.id.desc())
        ).first()
        assert (event.subscriber_id, event.kind) == (person.id, "complaint")
        assert event.how == "spam report" and "abuse" in event.detail
        assert bounces.issue_reports(issue_id).complained == 1
    # Suppressed like an unsubscribe: the next issue does not go to them.
    smtp_server.sink.received.clear()
    send_issue(mail_app, title="Mars")
    assert smtp_server.sink.recipients() == ["bo@example.se"]


def test_an_auto_reply_is_ignored_and_logged(mail_app, smtp_server, caplog):
    send_issue(mail_app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    raw = returned("out-of-office.eml", verp, "anna@example.se")
    with caplog.at_level("INFO", logger="newsletter.bounces"):
        result = process(mail_app, raw, "--recipient", verp)
    assert result.exit_code == 0
    assert "ignored: auto-reply" in caplog.text
    with mail_app.app_context():
        assert bounce_rows() == []
        assert subscriber("anna@example.se").status == "confirmed"


def test_a_dsn_for_a_forged_address_changes_nothing(mail_app, smtp_server, caplog):
    send_issue(mail_app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    forged = verp.replace("+d", "+d1")  # another delivery, the same signature
    with caplog.at_level("INFO", logger="newsletter.bounces"):
        result = process(mail_app, returned("postfix-hard.eml", forged, "x"))
    assert result.exit_code == 0
    assert "names no message of ours" in caplog.text
    with mail_app.app_context():
        assert bounce_rows() == []
        assert subscriber("anna@example.se").status == "confirmed"


def test_the_pipes_recipient_finds_the_delivery_when_the_headers_do_not(
    mail_app, smtp_server
):
    send_issue(mail_app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    raw = returned("exchange-hard.eml", "bounces@example.se", "anna@example.se")
    assert process(mail_app, raw).exit_code == 0
    with mail_app.app_context():
        assert bounce_rows() == []
    process(mail_app, raw, "--recipient", verp)
    with mail_app.app_context():
        assert subscriber("anna@example.se").status == "bounced"


def test_the_same_report_read_twice_is_recorded_once(make_app, smtp_server):
    app = make_app(SMTP_PORT=smtp_server.port, BOUNCE_LIMIT=2)
    send_issue(app, "anna@example.se")
    verp, _ = sent_to(smtp_server.sink, "anna@example.se")
    raw = returned("postfix-delayed.eml", verp, "anna@example.se")
    process(app, raw)
    process(app, raw)  # the mail server ran the pipe again after a timeout
    with app.app_context():
        assert len(bounce_rows()) == 1
        assert subscriber("anna@example.se").status == "confirmed"


def test_a_message_that_cannot_be_read_is_ignored_with_exit_0(app, caplog):
    with caplog.at_level("INFO", logger="newsletter.bounces"):
        result = process(app, b"\x00\xff garbage \r\n\r\n\xfe")
    assert result.exit_code == 0
    assert "ignored" in caplog.text


def test_bounces_process_exits_75_when_the_database_is_unreachable(tmp_path):
    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/none"
    app = build_app(base_config(url))
    verp = verp_address("nyhetsbrev@example.se", SECRET, "d", 1)
    result = process(app, returned("postfix-hard.eml", verp, "anna@example.se"))
    assert result.exit_code == 75


@pytest.mark.real_commits
def test_a_mail_servers_pipe_runs_the_command_with_the_message_on_stdin(
    make_app, smtp_server
):
    app = make_app(SMTP_PORT=smtp_server.port)
    send_issue(app, "anna@example.se")
    verp, message_id = sent_to(smtp_server.sink, "anna@example.se")
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": app.config["SECRET_KEY"],
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
    }
    pipe = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "bounces", "process"],
        input=returned("gmail-hard.eml", verp, "anna@example.se", message_id),
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert pipe.returncode == 0, pipe.stderr.decode()
    assert b"recorded: DSN 5.1.1" in pipe.stderr
    with app.app_context():
        assert subscriber("anna@example.se").status == "bounced"
