"""Issues reach subscribers through the queue, a worker and a real SMTP server."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletter.config import update_settings
from newsletter.extensions import db
from newsletter.mail.pythoncheck import email_headers_are_safe
from newsletter.mail.transport import SMTPTransport
from newsletter.mail.worker import Worker
from newsletter.models import Bounce, Delivery, Issue, OutboundMessage, Subscriber
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.factories import make_issue, make_item, make_subscriber
from tests.smtp import Sink, SMTPServer


def send_issue(app, issue_id: int) -> Worker:
    """Start sending and let one worker drain the queue."""
    with app.app_context():
        sending.start_sending(issue_id, utcnow())
        db.session.commit()
    worker = Worker(app)
    worker.run(once=True)
    return worker


def three_section_issue(title: str = "Nyhetsbrev februari 2026") -> int:
    """Create an issue with one item in each default theme."""
    issue = make_issue(title, intro="Välkommen till vårens nummer!")
    make_item(
        issue,
        "barn-och-unga",
        "Utbildning om hedersrelaterat våld",
        links=[("Till utbildningen", "https://utbildning.example.se/heder")],
        contact_name="Amira Hassan",
        contact_phone="010-123 45 67",
        contact_email="amira.hassan@example.se",
    )
    make_item(issue, "psykisk-halsa", "Konferens om ungas psykiska hälsa")
    make_item(issue, "aldre", "Ensamhet bland äldre", body="Ett **webbinarium**.")
    return issue.id


def delivery_statuses(app) -> dict[str, str]:
    """Map each subscriber's address to the status of their delivery."""
    with app.app_context():
        rows = db.session.execute(
            select(Subscriber.email, Delivery.status).join(
                Delivery, Delivery.subscriber_id == Subscriber.id
            )
        )
        return dict(rows.all())


def test_issue_email_carries_the_list_headers_and_both_parts(mail_app, smtp_server):
    with mail_app.app_context():
        issue_id = three_section_issue()
        make_subscriber("anna@example.se", "Åsa Öberg")
    send_issue(mail_app, issue_id)
    (message,) = smtp_server.sink.messages()
    assert message["From"] == "Nyhetsbrevet Väst <nyhetsbrev@example.se>"
    assert message["To"] == "Åsa Öberg <anna@example.se>"
    assert message["Subject"] == "Nyhetsbrev februari 2026"
    assert re.fullmatch(
        r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", message["Date"]
    )
    assert re.fullmatch(
        r"<d\.\d+\.[0-9a-f]{16}@nyhetsbrev\.example\.se>", message["Message-ID"]
    )
    assert message["List-Id"] == "Nyhetsbrev <newsletter.nyhetsbrev.example.se>"
    assert message["List-Archive"] == "<https://nyhetsbrev.example.se/>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(
        r"<https://nyhetsbrev\.example\.se/unsubscribe/[\w.-]+>",
        message["List-Unsubscribe"],
    )
    text, html = message.iter_parts()
    assert (
        text.get_content_type() == "text/plain"
        and html.get_content_type() == "text/html"
    )
    for part in (text, html):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    raw = smtp_server.sink.received[0].data
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n")[0]  # RFC 2047 in the headers


def test_the_html_is_responsive_inlined_swedish_and_has_the_links(
    mail_app, smtp_server
):
    with mail_app.app_context():
        issue_id = three_section_issue()
        make_subscriber()
    send_issue(mail_app, issue_id)
    html = smtp_server.sink.messages()[0].get_body(("html",)).get_content()
    assert '<html lang="sv"' in html
    assert "max-width:600px" in html  # centred at 600 px on desktop
    assert "@media only screen and (min-width:480px)" in html  # stacks below
    assert 'style="color: #00507a;text-decoration: underline;"' in html  # inlined
    assert "Läs i webbläsaren" in html
    from zoneinfo import ZoneInfo

    from babel.dates import format_date

    stockholm = utcnow().astimezone(ZoneInfo("Europe/Stockholm"))
    today = format_date(stockholm, "long", locale="sv")  # published as sending began
    assert f"Nyhetsbrev · {today}" in html
    assert (
        'href="https://nyhetsbrev.example.se/archive/nyhetsbrev-februari-2026"' in html
    )
    unsubscribe = smtp_server.sink.messages()[0]["List-Unsubscribe"][1:-1]
    assert f'href="{unsubscribe}"' in html and "Avsluta prenumerationen" in html
    assert 'href="https://nyhetsbrev.example.se/preferences/' in html
    assert 'href="tel:0101234567"' in html
    assert 'href="mailto:amira.hassan@example.se"' in html
    assert "<strong>webbinarium</strong>" in html
    assert "<img" not in html or 'alt="' in html


def test_the_text_part_holds_the_whole_issue_with_links_as_urls(mail_app, smtp_server):
    with mail_app.app_context():
        issue_id = three_section_issue()
        make_subscriber()
    send_issue(mail_app, issue_id)
    message = smtp_server.sink.messages()[0]
    text = message.get_body(("plain",)).get_content()
    for expected in (
        "Nyhetsbrev februari 2026",
        "Välkommen till vårens nummer!",
        "BARN OCH UNGA",
        "Utbildning om hedersrelaterat våld",
        "* Till utbildningen: https://utbildning.example.se/heder",
        "Kontakt: Amira Hassan, 010-123 45 67, amira.hassan@example.se",
        "PSYKISK HÄLSA",
        "ÄLDRE",
        "Läs i webbläsaren: https://nyhetsbrev.example.se/archive/nyhetsbrev-februari-2026",
        "Avsluta prenumerationen: " + message["List-Unsubscribe"][1:-1],
        "Ett webbinarium.",  # Markdown becomes text: no ** left
    ):
        assert expected in text, expected
    assert "**" not in text


def test_markdown_reads_as_plain_text():
    from newsletter.content import markdown_as_text

    text = markdown_as_text(
        "Se [beslutet](https://example.se/b) och <https://example.se/x>.\n\n"
        "## Delrubrik\n\n- ett\n- [skriv](mailto:a@example.se)\n\n1. först\n2. sedan"
    )
    assert text == (
        "Se beslutet (https://example.se/b) och https://example.se/x.\n\n"
        "Delrubrik\n\n- ett\n- skriv (a@example.se)\n\n1. först\n2. sedan"
    )


def test_each_subscriber_gets_only_the_sections_of_their_themes(mail_app, smtp_server):
    with mail_app.app_context():
        issue_id = three_section_issue()
        make_subscriber("aldre@example.se", themes=("aldre",))
        make_subscriber("unga@example.se", themes=("barn-och-unga", "psykisk-halsa"))
    send_issue(mail_app, issue_id)
    by_recipient = {
        r.recipient: r.parse().get_body(("plain",)).get_content()
        for r in smtp_server.sink.received
    }
    assert "ÄLDRE" in by_recipient["aldre@example.se"]
    assert "BARN OCH UNGA" not in by_recipient["aldre@example.se"]
    assert "prenumererar på: Äldre." in by_recipient["aldre@example.se"]
    assert "BARN OCH UNGA" in by_recipient["unga@example.se"]
    assert "PSYKISK HÄLSA" in by_recipient["unga@example.se"]
    assert "ÄLDRE" not in by_recipient["unga@example.se"]


def test_mjml_is_compiled_once_per_theme_combination(mail_app, smtp_server):
    with mail_app.app_context():
        issue_id = three_section_issue()
        for n in range(6):
            make_subscriber(f"a{n}@example.se", themes=("aldre",))
        for n in range(4):
            make_subscriber(f"b{n}@example.se")
    worker = send_issue(mail_app, issue_id)
    assert len(smtp_server.sink.received) == 10
    assert worker.templates.compiled == 2
    links = {r.parse()["List-Unsubscribe"] for r in smtp_server.sink.received}
    assert len(links) == 10  # each copy has its own personal link


def test_a_subscriber_whose_themes_have_no_items_is_skipped(mail_app, smtp_server):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        make_subscriber("aldre@example.se", themes=("aldre",))
        make_subscriber("unga@example.se", themes=("barn-och-unga",))
        make_subscriber("pending@example.se", status="pending")
        issue_id = issue.id
    send_issue(mail_app, issue_id)
    assert smtp_server.sink.recipients() == ["aldre@example.se"]
    assert delivery_statuses(mail_app) == {
        "aldre@example.se": "sent",
        "unga@example.se": "skipped",
    }
    with mail_app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.status == "sent" and issue.sent_at is not None
        assert issue.published_at is not None


def test_unsubscribing_after_the_fan_out_still_stops_the_copy(mail_app, smtp_server):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        leaving = make_subscriber("leaving@example.se")
        make_subscriber("staying@example.se")
        issue_id = issue.id
        sending.start_sending(issue_id, utcnow())
        sending.fan_out(issue_id, utcnow())
        leaving.status = "unsubscribed"
        db.session.commit()
    Worker(mail_app).run(once=True)
    assert smtp_server.sink.recipients() == ["staying@example.se"]
    assert delivery_statuses(mail_app)["leaving@example.se"] == "skipped"


def test_fan_out_happens_once_even_if_asked_twice(mail_app):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        for n in range(5):
            make_subscriber(f"s{n}@example.se")
        sending.start_sending(issue.id, utcnow())
        assert sending.fan_out(issue.id, utcnow()) == 5
        assert sending.fan_out(issue.id, utcnow()) is None
        db.session.commit()
        assert db.session.scalar(select(func.count(Delivery.id))) == 5


REFUSALS = {
    "gone": "550 5.1.1 No such user",  # the address does not exist: hard
    "vague": "550 Mailbox unavailable",  # no enhanced code: counts, like a soft one
    "strict": "554 5.7.1 Rejected as spam",  # policy: the address is fine
}


def refuse_some(recipient: str, attempt: int) -> str | None:
    """Answer each test address with its refusal."""
    return REFUSALS.get(recipient.split("@")[0])


def test_server_rejections_are_recorded_and_only_address_failures_bounce_the_subscriber(
    make_app,
):
    from tests.smtp import SMTPServer

    with SMTPServer(Sink(fault=refuse_some)) as server:
        app = make_app(SMTP_PORT=server.port, BOUNCE_LIMIT=2)
        with app.app_context():
            for name in ("gone", "vague", "strict", "here"):
                make_subscriber(f"{name}@example.se")
        failures = []
        for title in ("Första", "Andra"):
            with app.app_context():
                issue = make_issue(title)
                make_item(issue, "aldre")
                issue_id = issue.id
            send_issue(app, issue_id)
            with app.app_context():
                failures.append(sorted(sending.failures(issue_id)))
    assert failures == [
        [
            ("gone@example.se", 1, REFUSALS["gone"]),
            ("strict@example.se", 1, REFUSALS["strict"]),
            ("vague@example.se", 1, REFUSALS["vague"]),
        ],
        # A 5.1.1 bounces the subscriber at once: the second issue skips them.
        [
            ("strict@example.se", 1, REFUSALS["strict"]),
            ("vague@example.se", 1, REFUSALS["vague"]),
        ],
    ]
    assert server.sink.recipients() == ["here@example.se", "here@example.se"]
    with app.app_context():
        status = dict(
            db.session.execute(select(Subscriber.email, Subscriber.status)).all()
        )
        assert status == {
            "gone@example.se": "bounced",
            "vague@example.se": "bounced",  # BOUNCE_LIMIT of them
            "strict@example.se": "confirmed",
            "here@example.se": "confirmed",
        }
        kinds = db.session.execute(
            select(Subscriber.email, Bounce.kind, Bounce.status, Bounce.source)
            .join(Bounce, Bounce.subscriber_id == Subscriber.id)
            .order_by(Subscriber.email, Bounce.id)
        ).all()
        assert kinds == [
            ("gone@example.se", "hard", "5.1.1", "smtp"),
            ("strict@example.se", "rejected", "5.7.1", "smtp"),
            ("strict@example.se", "rejected", "5.7.1", "smtp"),
            ("vague@example.se", "soft", "", "smtp"),
            ("vague@example.se", "soft", "", "smtp"),
        ]


def test_temporary_failures_and_dropped_connections_are_retried_until_delivered(
    make_app,
):
    from tests.smtp import SMTPServer

    def flaky(recipient: str, attempt: int) -> str | None:
        if attempt % 7 == 0:
            return "drop"
        if attempt % 3 == 0:
            return "451 4.3.0 Temporary failure, try again"
        if recipient == "never@example.se":
            return "554 5.7.1 Rejected by policy"
        return None

    with SMTPServer(Sink(fault=flaky)) as server:
        app = make_app(
            SMTP_PORT=server.port,
            RETRY_BASE_SECONDS=0.01,
            RETRY_MAX_SECONDS=0.02,
            WORKER_IDLE_SECONDS=0.02,
            MAX_ATTEMPTS=20,
        )
        with app.app_context():
            issue = make_issue()
            make_item(issue, "aldre")
            for n in range(40):
                make_subscriber(f"s{n:02}@example.se")
            make_subscriber("never@example.se")
            issue_id = issue.id
            sending.start_sending(issue_id, utcnow())
            db.session.commit()
        worker = Worker(app)
        for _ in range(200):
            worker.tick()
            with app.app_context():
                if db.session.get(Issue, issue_id).status == "sent":
                    break
        worker.close()
    assert sorted(server.sink.recipients()) == [
        f"s{n:02}@example.se" for n in range(40)
    ]
    assert server.sink.attempts > 41  # some refusals and drops really happened
    with app.app_context():
        (failure,) = sending.failures(issue_id)
        assert failure[0] == "never@example.se"
        assert failure[2] == "554 5.7.1 Rejected by policy"


def test_retry_failed_queues_them_again(mail_app, smtp_server):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        subscriber = make_subscriber()
        issue_id = issue.id
        sending.start_sending(issue_id, utcnow())
        sending.fan_out(issue_id, utcnow())
        db.session.execute(db.update(Delivery).values(status="failed", last_error="x"))
        db.session.commit()
        assert sending.retry_failed(issue_id, utcnow()) == 1
        db.session.commit()
        assert subscriber.email == "anna@example.se"
    Worker(mail_app).run(once=True)
    assert smtp_server.sink.recipients() == ["anna@example.se"]


def test_a_scheduled_issue_starts_by_itself_when_due(mail_app, smtp_server):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        make_subscriber()
        later = make_issue("Senare")
        make_item(later, "aldre")
        sending.schedule(issue.id, utcnow() - timedelta(seconds=1))
        sending.schedule(later.id, utcnow() + timedelta(hours=1))
        db.session.commit()
        issue_id, later_id = issue.id, later.id
    Worker(mail_app).run(once=True)
    assert smtp_server.sink.recipients() == ["anna@example.se"]
    with mail_app.app_context():
        assert db.session.get(Issue, issue_id).status == "sent"
        assert db.session.get(Issue, later_id).status == "scheduled"


def test_pause_resume_and_cancel_take_effect_mid_send(mail_app, smtp_server):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        for n in range(30):
            make_subscriber(f"s{n:02}@example.se")
        issue_id = issue.id
        sending.start_sending(issue_id, utcnow())
        db.session.commit()
    update_settings(mail_app, WORKER_BATCH_SIZE=10)
    worker = Worker(mail_app)
    worker.tick()  # fan out and send the first 10
    assert len(smtp_server.sink.received) == 10
    with mail_app.app_context():
        sending.pause(issue_id)
        db.session.commit()
    worker.tick()
    assert len(smtp_server.sink.received) == 10  # paused: nothing claimed
    with mail_app.app_context():
        sending.resume(issue_id)
        db.session.commit()
    worker.tick()
    assert len(smtp_server.sink.received) == 20
    with mail_app.app_context():
        sending.cancel(issue_id, utcnow())
        db.session.commit()
    worker.run(once=True)  # closes the worker's connections at the end
    assert len(smtp_server.sink.received) == 20
    with mail_app.app_context():
        counts = sending.progress(issue_id).counts
        assert (counts["sent"], counts["skipped"]) == (20, 10)
        assert db.session.get(Issue, issue_id).status == "cancelled"


def test_dkim_signature_covers_the_list_headers_and_verifies(
    make_app, smtp_server, tmp_path
):
    import base64

    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    app = make_app(
        SMTP_PORT=smtp_server.port,
        DKIM_DOMAIN="example.se",
        DKIM_SELECTOR="nyhetsbrev",
        DKIM_PRIVATE_KEY_PATH=str(tmp_path / "dkim.pem"),
    )
    with app.app_context():
        issue = make_issue("Äldreomsorg i förändring")
        make_item(issue, "aldre")
        make_subscriber()
        issue_id = issue.id
    send_issue(app, issue_id)
    raw = smtp_server.sink.received[0].data

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"nyhetsbrev._domainkey.example.se."
        return b"v=DKIM1; k=rsa; p=" + public

    assert dkim.verify(raw, dnsfunc=dns)
    signature = smtp_server.sink.messages()[0]["DKIM-Signature"]
    signed = re.search(r"h=([^;]+)", signature.replace(" ", "")).group(1).lower()
    for header in (
        "from",
        "to",
        "subject",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ):
        assert header in signed.split(":")
    tampered = raw.replace(b"Subject:", b"Subject: Re:", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_test_send_goes_through_the_queue_with_every_section(
    mail_app, smtp_server, editor
):
    with mail_app.app_context():
        issue_id = three_section_issue()
    # editor fixture is bound to its own app; use the mail app's client instead.
    from tests.conftest import log_in
    from tests.factories import make_editor

    with mail_app.app_context():
        make_editor(email="redaktor@example.se")
    session = log_in(mail_app.test_client(), "redaktor@example.se")
    response = session.post(
        f"/editor/issues/{issue_id}/test",
        data={"addresses": "kollega@example.se, Chef@Example.se\nfel-adress"},
    )
    assert response.status_code == 422
    assert "fel-adress är inte en giltig e-postadress." in response.get_data(
        as_text=True
    )
    typed = session.post(
        f"/editor/issues/{issue_id}/test", data={"addresses": "<b>fel</b>"}
    ).get_data(as_text=True)
    assert "&lt;b&gt;fel&lt;/b&gt; är inte en giltig" in typed
    assert "<b>fel</b>" not in typed
    response = session.post(
        f"/editor/issues/{issue_id}/test",
        data={"addresses": "kollega@example.se, Chef@Example.se"},
    )
    assert response.status_code == 302
    assert smtp_server.sink.received == []  # the web process never talks SMTP
    Worker(mail_app).run(once=True)
    assert sorted(smtp_server.sink.recipients()) == [
        "chef@example.se",
        "kollega@example.se",
    ]
    message = smtp_server.sink.messages()[0]
    assert message["Subject"] == "[Test] Nyhetsbrev februari 2026"
    text = message.get_body(("plain",)).get_content()
    assert "BARN OCH UNGA" in text and "PSYKISK HÄLSA" in text and "ÄLDRE" in text
    with mail_app.app_context():
        assert db.session.scalar(select(func.count(Issue.id))) == 1
        statuses = db.session.scalars(select(OutboundMessage.status)).all()
        assert statuses == ["sent", "sent"]
        assert db.session.get(Issue, issue_id).status == "draft"


@pytest.mark.parametrize("connections", [1, 3])
def test_several_connections_deliver_each_message_once(
    make_app, smtp_server, connections
):
    app = make_app(SMTP_PORT=smtp_server.port, SMTP_CONNECTIONS=connections)
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        for n in range(50):
            make_subscriber(f"s{n:02}@example.se")
        issue_id = issue.id
    send_issue(app, issue_id)
    assert sorted(smtp_server.sink.recipients()) == [
        f"s{n:02}@example.se" for n in range(50)
    ]


# The limit is held in the database, through connections of its own.
@pytest.mark.real_commits
def test_the_rate_limit_spaces_messages_out(make_app):
    import time

    from newsletter.mail.transport import MemoryTransport

    app = make_app(RATE_PER_SECOND=20)
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        for n in range(11):
            make_subscriber(f"s{n:02}@example.se")
        sending.start_sending(issue.id, utcnow())
        sending.fan_out(issue.id, utcnow())
        db.session.commit()
    memory = MemoryTransport()
    worker = Worker(app, transport_factory=lambda: memory)
    started = time.monotonic()
    worker.run(once=True)
    elapsed = time.monotonic() - started
    assert len(memory.sent) == 11
    assert elapsed >= 0.5  # 11 messages at 20/s need at least 10 intervals of 50 ms


def test_placeholders_in_content_never_receive_a_readers_personal_links(
    mail_app, smtp_server
):
    collect = "https://evil.example/collect?u=%%UNSUBSCRIBE_URL%%&p=%%PREFERENCES_URL%%"
    with mail_app.app_context():
        issue = make_issue()
        make_item(
            issue,
            title="Läs mer %%PREFERENCES_URL%%",
            body="Se [här](https://evil.example/t?x=%%UNSUBSCRIBE_URL%%) "
            "och %%PREFERENCES_URL%%.",
            links=[("Resurs", collect)],
        )
        make_subscriber()
        issue_id = issue.id
    send_issue(mail_app, issue_id)
    (message,) = smtp_server.sink.messages()
    token = message["List-Unsubscribe"][1:-1].rsplit("/", 1)[1]
    text, html = (part.get_content() for part in message.iter_parts())
    evil = [line for line in text.splitlines() if "evil.example" in line]
    evil += [h for h in re.findall(r'href="([^"]+)"', html) if "evil.example" in h]
    assert len(evil) == 4
    for link in evil:
        assert "/unsubscribe/" not in link and "/preferences/" not in link
        assert "UNSUBSCRIBE_URL" in link
    assert "Läs mer %%PREFERENCES_URL%%" in text  # text stays as the editor wrote it
    assert "Läs mer %%PREFERENCES_URL%%" in html
    for content in (text, html):  # the template's own links are still personal
        assert f"/unsubscribe/{token}" in content
        assert "https://nyhetsbrev.example.se/preferences/" in content


INJECTED_TITLE = (
    "Nyhetsbrev =?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0A"
    "Content-Type:_text/plain=0D=0A=0D=0AFalsk_text?= mars"
)


def test_an_encoded_word_in_a_stored_title_adds_no_header_or_body(
    mail_app, smtp_server
):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue)
        issue.title = INJECTED_TITLE  # stored before titles were checked
        db.session.commit()
        make_subscriber()
        issue_id = issue.id
    send_issue(mail_app, issue_id)
    raw = smtp_server.sink.received[0].data
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":")[0] for line in head.split(b"\r\n") if line[:1] != b" "]
    assert b"Reply-To" not in names and names.count(b"Content-Type") == 1
    message = smtp_server.sink.messages()[0]
    assert message["Subject"] == INJECTED_TITLE  # shown as typed, never decoded twice
    assert len(list(message.iter_parts())) == 2
    assert message.get_body(("plain",)).get_content().startswith(INJECTED_TITLE)


def test_the_interpreter_keeps_encoded_line_breaks_out_of_headers():
    # Workers refuse to start otherwise; `make` chooses an interpreter that passes.
    assert email_headers_are_safe()


def test_one_address_that_cannot_be_sent_does_not_stop_the_others(make_app):
    with SMTPServer(enable_SMTPUTF8=False) as server:
        app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
        with app.app_context():
            issue_id = three_section_issue()
            make_subscriber("anna@example.se")
            make_subscriber("bo@example.se")
            # stored with its domain in Unicode, as sign-ups were before
            make_subscriber("cilla@företag.se")
            # a local part beyond ASCII, and the server does not offer SMTPUTF8
            make_subscriber("åsa@example.se")
        send_issue(app, issue_id)
        recipients = sorted(server.sink.recipients())
    assert recipients == ["anna@example.se", "bo@example.se"]
    statuses = delivery_statuses(app)
    assert statuses["cilla@företag.se"] == statuses["åsa@example.se"] == "failed"
    with app.app_context():
        reasons = db.session.scalars(
            select(Delivery.last_error).where(Delivery.status == "failed")
        ).all()
    assert len(reasons) == 2 and all("SMTPUTF8" in r for r in reasons), reasons


def test_an_international_local_part_goes_out_with_smtputf8(make_app):
    with SMTPServer(enable_SMTPUTF8=True) as server:
        app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
        with app.app_context():
            issue_id = three_section_issue()
            make_subscriber("åsa@example.se", "Åsa")
        send_issue(app, issue_id)
        (received,) = server.sink.received
    assert received.recipient == "åsa@example.se"
    assert received.parse()["To"] == "åsa@example.se"
    assert delivery_statuses(app) == {"åsa@example.se": "sent"}


def test_a_connection_the_server_closed_while_idle_is_reopened_at_once():
    with SMTPServer(timeout=0.3) as server:
        transport = SMTPTransport(host="127.0.0.1", port=server.port, timeout=5)
        message = b"Subject: x\r\n\r\nhej\r\n"
        transport.send("a@example.se", "b@example.se", message)
        time.sleep(0.8)  # the server drops the idle connection
        transport.send("a@example.se", "c@example.se", message)
        transport.close()
        assert server.sink.recipients() == ["b@example.se", "c@example.se"]


def test_a_test_send_of_a_deleted_draft_is_recorded_with_a_readable_reason(
    mail_app, smtp_server
):
    """The draft is deleted while its test copy waits in the queue."""
    with mail_app.app_context():
        issue_id = three_section_issue()
        sending.queue_test_send(issue_id, ["kollega@example.se"], "sv")
        db.session.delete(db.session.get(Issue, issue_id))
        db.session.commit()
    Worker(mail_app).run(once=True)
    assert smtp_server.sink.received == []
    with mail_app.app_context():
        message = db.session.scalar(select(OutboundMessage))
        assert message.status == "failed"
        assert "Not Found" not in message.last_error
        assert "requested URL" not in message.last_error
        assert message.last_error == f"not sent: issue {issue_id} does not exist"


def test_the_retry_policy_doubles_the_wait_up_to_its_cap():
    from newsletter.mail.queue import RetryPolicy

    policy = RetryPolicy(max_attempts=8, backoff_base=60.0, backoff_cap=300.0)
    waits = [policy.backoff(attempts).total_seconds() for attempts in (1, 2, 3, 9)]
    # Each wait is jittered by up to 20 % either way.
    for wait, expected in zip(waits, (60, 120, 240, 300), strict=True):
        assert expected * 0.8 <= wait <= expected * 1.2
