"""The whole path of a partner's proposal, in a real browser: from the contribution
link to the sent issue and its page in the archive."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import Role
from newsletter.models.types import utcnow
from newsletter.services import contacts, plan
from newsletter.services.contacts import ContactData
from tests.browser import live_site
from tests.factories import make_editor, make_issue, make_subscriber
from tests.test_links import LinkServer

pytestmark = pytest.mark.browser

MONTHS = (
    "januari februari mars april maj juni juli augusti september oktober "
    "november december"
).split()
TITLE = "Utbildningsdag om ungas psykiska hälsa"
BODY = "Kommunens elevhälsa bjuder in skolpersonal till en heldag i Kalmar."


@pytest.fixture
def link_server():
    """A local web server: /ok answers 200, /moved redirects there."""
    server = LinkServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(tmp_path):
    """The app on a SQLite file, its live URL, and the mail catcher it sends to."""
    with live_site(
        tmp_path,
        OUTBOUND_ALLOW_PRIVATE=True,  # the link server is on loopback
        LINK_CHECK_TIMEOUT=2.0,
    ) as site:
        yield site


def swedish_date(day) -> str:
    """A date as Swedish pages write it: 3 mars 2026."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def open_mail(page, url: str, to: str, subject: str) -> str:
    """Open the newest caught message to an address whose subject has the words;
    return its text part."""
    page.goto(f"{url}/dev/mail/")
    row = page.locator("table.list tbody tr").filter(has_text=to)
    row.filter(has_text=subject).first.get_by_role("link").click()
    return page.locator("pre.email-text").inner_text()


def test_a_proposal_goes_from_the_partner_to_the_sent_issue_and_archive(
    site, browser, link_server
):
    from playwright.sync_api import expect

    app, url = site
    today = plan.local_day(utcnow())
    deadline, publish_on = today + timedelta(days=10), today + timedelta(days=30)
    with app.app_context():
        make_editor(email="eva@example.se", name="Eva Editor", role=Role.PUBLISHER)
        make_subscriber("lasare@example.se", themes=("psykisk-halsa",))
        saved = contacts.create_contact(
            ContactData(
                name="Karin Kontakt",
                title="Samordnare",
                organisation="Region Kalmar län",
                phone="0480-123 45",
                email="karin.kontakt@example.se",
            )
        )
        db.session.commit()
        saved_phone = saved.phone
        issue = make_issue(
            "Nyhetsbrev juni",
            publish_on=publish_on,
            contribution_deadline=deadline,
        )
        issue_id, slug = issue.id, issue.slug

    desk = browser.new_context(locale="sv-SE", viewport={"width": 1280, "height": 900})
    phone = browser.new_context(locale="sv-SE", viewport={"width": 375, "height": 740})
    for context in (desk, phone):
        context.set_default_timeout(10_000)
    editor, partner = desk.new_page(), phone.new_page()
    try:
        # The editor logs in and makes a contribution link for Kalmar kommun.
        editor.goto(f"{url}/editor/")
        editor.get_by_label("E-postadress").fill("eva@example.se")
        editor.get_by_label("Lösenord").fill("correct horse battery")
        editor.get_by_role("button", name="Logga in").click()
        editor.get_by_role("link", name="Bidragsgivare").click()
        editor.get_by_label("Organisation").fill("Kalmar kommun")
        editor.get_by_label("Kontaktpersonens e-postadress").fill("pia@kalmar.example")
        editor.get_by_role("button", name="Skapa länken").click()
        expect(editor.get_by_text("Bidragslänken är skapad.")).to_be_visible()
        contribution_url = editor.get_by_label("Bidragslänk").input_value()
        assert contribution_url.startswith(f"{url}/contribute/")

        # The partner, on a phone, proposes an item for the planned issue.
        partner.goto(contribution_url)
        expect(
            partner.get_by_text(
                f"Ditt förslag gäller Nyhetsbrev juni, som kommer ut "
                f"{swedish_date(publish_on)}."
            )
        ).to_be_visible()
        expect(
            partner.get_by_text(f"Sista dag för förslag: {swedish_date(deadline)}")
        ).to_be_visible()
        partner.get_by_label("Rubrik").fill(TITLE)
        partner.get_by_label("Text", exact=True).fill(BODY)
        partner.get_by_label("Psykisk hälsa").check()
        partner.get_by_label("Kontaktperson", exact=True).fill("Pia Partner")
        partner.get_by_label("Kontaktpersonens e-post").fill("pia@kalmar.example")
        partner.locator("#links-0-text").fill("Programmet")
        partner.locator("#links-0-url").fill(f"{link_server}/ok")
        partner.locator("#links-1-text").fill("Anmälan")
        partner.locator("#links-1-url").fill(f"{link_server}/moved")
        partner.get_by_label("Din e-postadress").fill("pia@kalmar.example")
        assert_fits_a_phone(partner)
        partner.get_by_role("button", name="Skicka förslaget").click()
        expect(
            partner.get_by_role("heading", name="Tack! Vi har tagit emot ditt förslag.")
        ).to_be_visible()
        assert_fits_a_phone(partner)

        # The receipt carries the private link; it shows the proposal as received.
        Worker(app).run(once=True)
        receipt = open_mail(
            partner, url, "pia@kalmar.example", "Vi har tagit emot ditt förslag"
        )
        private = re.search(r"http://\S+/contribute/proposal/\S+", receipt).group(0)
        partner.goto(private)
        expect(partner.get_by_text("Mottaget: väntar på en redaktör.")).to_be_visible()

        # The editor sees one new proposal, and accepts it with a saved contact.
        editor.goto(f"{url}/editor/")
        inbox = editor.get_by_role("navigation", name="Redaktör").get_by_role(
            "link", name="Inkorg"
        )
        expect(inbox.locator(".menu-count")).to_have_text(re.compile(r"^\s*1\b"))
        inbox.click()
        editor.get_by_role("link", name=TITLE).click()
        accept = editor.locator("form.item-form")
        expect(accept.get_by_label("Nummer")).to_have_value(str(issue_id))
        accept.get_by_label("Sparad kontakt").select_option(
            label="Karin Kontakt, Region Kalmar län, karin.kontakt@example.se"
        )
        expect(accept.get_by_label("Kontaktperson", exact=True)).to_have_value(
            "Karin Kontakt"
        )
        accept.get_by_role("button", name="Godkänn", exact=True).click()
        expect(
            editor.get_by_text("Förslaget är godkänt och tillagt i numret.")
        ).to_be_visible()
        expect(editor.get_by_text("Föreslagen av Kalmar kommun")).to_be_visible()

        # The section contact of Psykisk hälsa, on the issue page.
        editor.get_by_role("link", name="Nyhetsbrev juni").click()
        section = editor.locator("#theme-psykisk-halsa")
        section.get_by_text("Lägg till en kontakt för temat").click()
        section.get_by_label("Kontaktperson", exact=True).fill("Sara Sektion")
        section.get_by_label("Telefon").fill("0480-999 00")
        section.get_by_label("Kontaktpersonens e-post").fill("sara@example.se")
        section.get_by_role("button", name="Spara temats kontakt").click()
        expect(editor.get_by_text("Temats kontakt är sparad.")).to_be_visible()

        # The link report: /ok works, /moved is redirected to /ok.
        result = app.test_cli_runner().invoke(args=["links", "check", slug])
        assert result.exit_code == 0, result.output
        editor.reload()
        report = editor.locator("section.link-states li")
        expect(
            report.filter(has_text=f"{link_server}/ok", has_not_text="/moved")
        ).to_contain_text("fungerar")
        expect(report.filter(has_text=f"{link_server}/moved")).to_contain_text(
            f"omdirigeras till {link_server}/ok"
        )

        # Send now, confirming the question the button asks.
        editor.get_by_role("link", name="Skicka eller schemalägg").click()
        editor.once("dialog", lambda dialog: dialog.accept())
        editor.get_by_role("button", name="Skicka nu").click()
        expect(editor.get_by_text("Numret är publicerat och skickas.")).to_be_visible()
        expect(
            editor.get_by_role("heading", name="Utskick av Nyhetsbrev juni")
        ).to_be_visible()
        Worker(app).run(once=True)

        text = open_mail(editor, url, "lasare@example.se", "Nyhetsbrev juni")
        section_text = text[text.index("PSYKISK HÄLSA") :]
        assert section_text.index("Sara Sektion") < section_text.index(TITLE)
        assert BODY in section_text
        assert (
            f"Kontakt: Karin Kontakt, {saved_phone}, karin.kontakt@example.se"
            in section_text
        )
        assert "Pia Partner" not in text

        accepted = open_mail(editor, url, "pia@kalmar.example", "Ditt förslag till")
        assert f"Tack för ditt förslag ”{TITLE}”" in accepted
        assert "Det kommer med i Nyhetsbrev juni." in accepted

        editor.goto(f"{url}/archive/{slug}")
        page_text = editor.locator("main").inner_text()
        assert page_text.index("Sara Sektion") < page_text.index(TITLE)
        for shown in (BODY, "Karin Kontakt", saved_phone, "karin.kontakt@example.se"):
            assert shown in page_text
    finally:
        desk.close()
        phone.close()


def assert_fits_a_phone(page) -> None:
    """The page needs no sideways scrolling at 375 px."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
