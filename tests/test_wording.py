"""One Swedish word per idea, and the small editor details readers asked for."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from babel.messages.pofile import read_po

from newsletter import create_app
from newsletter.extensions import db
from newsletter.mail.emails import preview_email
from newsletter.models import Delivery
from newsletter.models.states import DeliveryStatus, IssueStatus
from newsletter.models.types import utcnow
from newsletter.services import issues, sending
from newsletter.services.issues import ContactDetails
from tests.conftest import base_config, reset_schema
from tests.factories import make_issue, make_item, make_subscriber, theme

ROOT = Path(__file__).parent.parent
CATALOG = ROOT / "newsletter/translations/sv/LC_MESSAGES"
STYLESHEET = ROOT / "newsletter/static/style.css"
RETIRED = (
    "Avsnitt",
    "Adress (slug)",
    "Förhandstext",
    "Länkade resurser",
    "Studsar",
    "Hårda studsar",
    "Intygande",
)


def swedish_strings() -> list[str]:
    """Every msgstr of the Swedish catalogue (each plural form too)."""
    with (CATALOG / "messages.po").open("rb") as source:
        catalog = read_po(source)
    found: list[str] = []
    for message in catalog:
        strings = message.string
        found.extend(strings if isinstance(strings, tuple) else [strings])
    return [text for text in found if text]


def test_the_swedish_catalogue_uses_none_of_the_retired_words():
    texts = swedish_strings()
    for word in RETIRED:
        pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
        assert not [t for t in texts if pattern.search(t)], word
    # One word for a theme section, one for email.
    for stem in (r"avsnitt\w*", r"mejl\w*", r"epost\w*", r"e-mail\w*"):
        pattern = re.compile(rf"(?<!\w){stem}", re.IGNORECASE)
        assert not [t for t in texts if pattern.search(t)], stem


def test_the_issue_form_uses_the_new_labels(app, editor):
    with app.app_context():
        issue_id = make_issue().id
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Kortnamn i webbadressen" in page
    assert "Förhandsvisningstext (visas i inkorgen)" in page
    assert '<h2 id="sections-heading">Teman</h2>' in page


def test_a_conflict_page_says_in_plain_words_what_to_do(app):
    from werkzeug.exceptions import Conflict

    from newsletter.web import _error_page

    with app.test_request_context("/", headers={"Accept-Language": "sv"}):
        body, code = _error_page(Conflict())
    assert code == 409
    assert "Något har ändrats under tiden. Ladda om sidan och försök igen." in body


def test_the_english_footer_says_are_subscribed_to(app):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Ensamhet bland äldre")
        with app.test_request_context("/"):
            text = preview_email(issue, "en").text
    assert "because you are subscribed to:" in text
    assert "because you subscribe to" not in text


def test_the_issue_page_lists_copy_and_delete_after_the_sections(app, editor):
    with app.app_context():
        issue_id = make_issue().id
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    sections = page.index('id="sections-heading"')
    assert sections < page.index("Kopiera till nytt utkast")
    assert sections < page.index("Ta bort utkastet")


def test_a_test_send_confirms_beside_the_button_and_keeps_the_addresses(app, editor):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Ensamhet bland äldre")
        issue_id = issue.id
    url = f"/editor/issues/{issue_id}/email"
    first = editor.get(url).get_data(as_text=True)
    # Before any test: the box holds the editor's own address.
    assert re.search(r"<textarea[^>]*>\s*editor@example\.se</textarea>", first)
    response = editor.post(
        f"/editor/issues/{issue_id}/test",
        data={"addresses": "kollega@example.se, chef@example.se"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{url}#send-test")
    page = editor.get(url).get_data(as_text=True)
    button = page.index("Skicka test</button>")
    status = page.index('role="status"', button)
    confirmation = page.index("Ett testexemplar är på väg till 2 adresser.")
    assert button < status < confirmation < page.index("</form>", button)
    # The addresses as the form cleaned them (lower case, sorted).
    kept = r"<textarea[^>]*>\s*chef@example\.se, kollega@example\.se</textarea>"
    assert re.search(kept, page)
    # The confirmation is said once; the addresses stay.
    again = editor.get(url).get_data(as_text=True)
    assert "Ett testexemplar är på väg" not in again
    assert re.search(kept, again)


def test_the_progress_page_says_why_readers_were_skipped(app, publisher):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Ensamhet bland äldre")
        make_subscriber("a@example.se", themes=("aldre",))
        make_subscriber("c@example.se", themes=("barn-och-unga",))
        sending.start_sending(issue.id, utcnow())
        sending.fan_out(issue.id, utcnow())
        db.session.commit()
        issue_id = issue.id
        skipped = db.session.scalars(
            db.select(Delivery).where(Delivery.status == DeliveryStatus.SKIPPED)
        ).all()
        assert len(skipped) == 1
    page = publisher.get(f"/editor/issues/{issue_id}/progress").get_data(as_text=True)
    assert 'data-field="skipped" aria-describedby="skipped-reason">1<' in page
    assert (
        'id="skipped-reason">Hoppades över: inget av läsarens valda teman har '
        "artiklar i det här numret." in page
    )


def test_phone_numbers_never_break_across_lines(app, editor):
    with app.app_context():
        issue = make_issue("Nyhetsbrev februari 2026", slug="februari")
        make_item(issue, "aldre", "Webbinarium", contact_phone="0480-837 78")
        maria = ContactDetails("Maria Svensson", "0480-800 00", "maria@example.se")
        issues.set_section_contact(issue.id, theme("aldre").id, maria, "Test")
        issue.status = IssueStatus.SENT
        issue.published_at = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
        db.session.commit()
        issue_id = issue.id
        with app.test_request_context("/"):
            html = preview_email(issue, "sv").html
    phones = re.compile(r'<a class="phone"[^>]*>0480-8')
    # The email has no stylesheet of ours to rely on: the style is on the link.
    in_email = phones.findall(html)
    assert len(in_email) == 2
    assert all("white-space: nowrap" in tag for tag in in_email)
    editor_page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    archive = app.test_client().get("/themes/aldre").get_data(as_text=True)
    assert phones.search(editor_page) and len(phones.findall(archive)) == 2
    css = STYLESHEET.read_text(encoding="utf-8")
    assert re.search(r"\.phone \{ white-space: nowrap; \}", css)


def test_the_schedule_field_and_link_labels_are_styled():
    css = STYLESHEET.read_text(encoding="utf-8")
    inputs = css[: css.index("{", css.index("input[type=text]"))]
    assert "input[type=datetime-local]" in inputs
    # A link label gets the whole width of the form, not a third of it.
    row = re.search(r"\.link-row \{[^}]*\}", css)
    assert row and "grid-template-columns: 1fr;" in row.group(0)


def test_the_issue_page_says_in_plain_swedish_who_checks_the_links(app, editor):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Ensamhet", links=[("Läs", "https://example.se/")])
        issue_id = issue.id
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "En bakgrundsprocess kontrollerar varje webblänk" in page
    assert not re.search(r"(?<!\()\bworker\b", page, re.IGNORECASE)


def test_the_mail_catcher_names_the_headers_in_swedish(tmp_path):
    app = create_app(
        base_config(
            f"sqlite:///{tmp_path / 'd.sqlite3'}", MAILBOX_PATH=str(tmp_path / "mail")
        )
    )
    reset_schema(app)
    message = EmailMessage()
    message["Subject"], message["From"] = "Hej", "Nyhetsbrevet <nyheter@example.se>"
    message["To"], message["Date"] = "lasare@example.se", "Wed, 25 Nov 2026 10:00 +0000"
    message["Message-ID"] = "<1@example.se>"
    message.set_content("Hej")
    key = mailbox.Maildir(str(tmp_path / "mail"), create=True).add(message)
    page = (
        app.test_client()
        .get(f"/dev/mail/{key}", headers={"Accept-Language": "sv"})
        .get_data(as_text=True)
    )
    labels = re.findall(r"<dt>(.*?)</dt>", page)
    assert labels == ["Från", "Till", "Datum", "Meddelande-id"]
