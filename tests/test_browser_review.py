"""Review with two accounts, in a real browser: the editor composes and asks for
review, the publisher comments and approves, a change withdraws the approval, the
publisher approves again and sends, then corrects the sent item; the archive, the
feeds and the audit page show all of it."""

from __future__ import annotations

import re
import urllib.request
from datetime import datetime

import feedparser
import pytest

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import Issue, Role
from newsletter.models.types import utcnow
from newsletter.services import plan, settings
from tests.browser import live_site
from tests.factories import make_editor, make_subscriber
from tests.test_browser_contributions import open_mail, swedish_date

pytestmark = pytest.mark.browser

ISSUE = "Nyhetsbrev september"
TITLE = "Ny vägledning om samordnad individuell plan"
BODY = "Vägledningen beskriver hur kommun och region gör en gemensam plan."
CHANGED_BODY = BODY.replace("gemensam", "samordnad")
OLD_PHONE = "0480-123 45"
NEW_PHONE = "0480-543 21"
NOTE = "Telefonnumret till kontaktpersonen var fel."
PASSWORD = "correct horse battery"


@pytest.fixture
def site(tmp_path):
    """The app on a SQLite file, its live URL, and the mail catcher it sends to."""
    with live_site(tmp_path) as site:
        yield site


def log_in(page, url: str, email: str) -> None:
    """Log in on the editor's login page."""
    page.goto(f"{url}/editor/")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()


def test_two_accounts_review_approve_send_and_correct_an_issue(site, browser):
    from playwright.sync_api import expect

    app, url = site
    with app.app_context():
        make_editor(email="eva@example.se", name="Eva Editor", role=Role.EDITOR)
        make_editor(email="per@example.se", name="Per Publicist", role=Role.PUBLISHER)
        make_editor(email="ada@example.se", name="Ada Admin", role=Role.ADMIN)
        make_subscriber("lasare@example.se", themes=("psykisk-halsa",))
        settings.set_setting(settings.REQUIRE_APPROVAL, True, by="test")
        db.session.commit()

    contexts = [
        browser.new_context(locale="sv-SE", viewport={"width": 1280, "height": 900})
        for _ in range(3)
    ]
    for context in contexts:
        context.set_default_timeout(10_000)
    editor, publisher, admin = (context.new_page() for context in contexts)
    try:
        # The editor composes an issue with one item and its contact's phone.
        log_in(editor, url, "eva@example.se")
        editor.get_by_role("link", name="Nytt nummer").click()
        editor.get_by_label("Rubrik").fill(ISSUE)
        editor.get_by_role("button", name="Skapa nummer").click()
        expect(editor.get_by_text("Numret är skapat.")).to_be_visible()
        issue_page = editor.url
        editor.get_by_role("link", name="Lägg till artikel i Psykisk hälsa").click()
        editor.get_by_label("Rubrik").fill(TITLE)
        editor.get_by_label("Text", exact=True).fill(BODY)
        editor.get_by_label("Kontaktperson", exact=True).fill("Karin Kontakt")
        editor.get_by_label("Telefon").fill(OLD_PHONE)
        editor.get_by_role("button", name="Spara artikeln").click()
        expect(editor.get_by_text("Artikeln är tillagd.")).to_be_visible()

        # It asks the publisher for review.
        editor.goto(issue_page)
        review = editor.locator("#review")
        review.locator("summary", has_text="Be om granskning").click()
        review.get_by_label("Per Publicist (per@example.se)").check()
        review.get_by_role("button", name="Be om granskning").click()
        expect(
            editor.get_by_text("Granskning är begärd; Per Publicist har fått e-post.")
        ).to_be_visible()
        expect(review.locator("[aria-current=step]")).to_have_text("Granskning")
        expect(
            review.get_by_text("En utgivare måste godkänna numret innan det skickas.")
        ).to_be_visible()

        # The editor cannot send at all: the send page names the role it needs.
        expect(
            editor.get_by_role("link", name="Skicka eller schemalägg")
        ).to_have_count(0)
        response = editor.goto(f"{issue_page.split('#')[0]}/send")
        assert response is not None and response.status == 403
        expect(
            editor.get_by_role(
                "heading", name="Du har inte behörighet att öppna den här sidan."
            )
        ).to_be_visible()
        expect(
            editor.get_by_text(
                "Här behövs någon av rollerna Administratör, Utgivare. "
                "Din roll är Redaktör."
            )
        ).to_be_visible()
        # A test copy to someone else is refused until the issue is approved.
        editor.goto(issue_page)
        editor.get_by_role("link", name="E-post och test").click()
        # The page holds two frames of the email; let them load before the form is
        # used, and name the POST so that a lost click says so.
        expect(editor).to_have_url(re.compile(r"/email$"))
        editor.wait_for_load_state("load")
        editor.get_by_label("Skicka ett test till").fill("kollega@example.se")
        with editor.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/test")
        ) as answer:
            editor.get_by_role("button", name="Skicka test").click()
        assert answer.value.status == 422
        expect(editor.locator("#addresses-error")).to_have_text(
            "Numret måste godkännas av en utgivare som inte gjorde den senaste "
            "ändringen innan det kan skickas, schemaläggas eller testskickas "
            "till andra."
        )

        # The publisher got the request, sees the issue in review, comments on the
        # item and approves.
        Worker(app).run(once=True)
        request_mail = open_mail(publisher, url, "per@example.se", ISSUE)
        assert "Eva Editor" in request_mail
        log_in(publisher, url, "per@example.se")
        publisher.get_by_role("link", name=ISSUE).click()
        p_review = publisher.locator("#review")
        expect(p_review.locator("[aria-current=step]")).to_have_text("Granskning")
        publisher.get_by_role("link", name=TITLE).click()
        publisher.get_by_role("textbox", name="Kommentar").fill(
            "Skriv samordnad i stället."
        )
        publisher.get_by_role("button", name="Lägg till kommentar").click()
        expect(publisher.get_by_text("Kommentaren är sparad.")).to_be_visible()
        expect(publisher.get_by_text("Skriv samordnad i stället.")).to_be_visible()
        publisher.get_by_role("link", name=ISSUE).first.click()
        publisher.locator("#review").get_by_role("button", name="Godkänn").click()
        expect(publisher.get_by_text("Numret är godkänt.")).to_be_visible()
        expect(
            publisher.locator("#review").get_by_text(
                re.compile(r"Godkänt av Per Publicist")
            )
        ).to_be_visible()

        # The editor changes a word: the approval is withdrawn, saying who
        # changed what.
        editor.goto(issue_page)
        editor.get_by_role("link", name=TITLE).click()
        expect(editor.get_by_text("Skriv samordnad i stället.")).to_be_visible()
        editor.get_by_label("Text", exact=True).fill(CHANGED_BODY)
        editor.get_by_role("button", name="Spara artikeln").click()
        expect(editor.get_by_text("Artikeln är sparad.")).to_be_visible()
        editor.goto(issue_page)
        expect(editor.locator("#review .withdrawn")).to_contain_text(
            f"när Eva Editor ändrade artikeln ”{TITLE}”"
        )
        expect(
            editor.get_by_text("En utgivare måste godkänna numret innan det skickas.")
        ).to_be_visible()

        # The publisher approves again and sends now, confirming the question.
        publisher.reload()
        expect(publisher.locator("#review .withdrawn")).to_contain_text("Eva Editor")
        publisher.locator("#review").get_by_role("button", name="Godkänn").click()
        expect(publisher.get_by_text("Numret är godkänt.")).to_be_visible()
        publisher.get_by_role("link", name="Skicka eller schemalägg").click()
        publisher.once("dialog", lambda dialog: dialog.accept())
        publisher.get_by_role("button", name="Skicka nu").click()
        expect(
            publisher.get_by_text("Numret är publicerat och skickas.")
        ).to_be_visible()
        Worker(app).run(once=True)
        sent = open_mail(publisher, url, "lasare@example.se", ISSUE)
        assert CHANGED_BODY in sent and OLD_PHONE in sent
        assert "Skriv samordnad" not in sent

        # The publisher corrects the phone number of the sent item, with a note.
        publisher.goto(issue_page)
        publisher.get_by_role("link", name=TITLE).click()
        publisher.get_by_role("link", name="Rätta artikeln").click()
        publisher.get_by_label("Rättelse (visas för läsarna)").fill(NOTE)
        publisher.get_by_label("Telefon").fill(NEW_PHONE)
        publisher.get_by_role("button", name="Publicera rättelsen").click()
        expect(publisher.get_by_text("Rättelsen är publicerad.")).to_be_visible()

        # The archive page shows the correction at the top and at the item.
        today = swedish_date(plan.local_day(utcnow()))
        shown = f"Rättad {today}: {NOTE}"
        with app.app_context():
            slug = db.session.scalars(db.select(Issue.slug)).one()
        publisher.goto(f"{url}/archive/{slug}")
        main = publisher.locator("main")
        expect(main.get_by_text(shown)).to_have_count(2)
        main_text = main.inner_text()
        assert main_text.index(shown) < main_text.index(TITLE) < main_text.rindex(shown)
        assert NEW_PHONE in main_text and OLD_PHONE not in main_text

        # Both feeds show the corrected number and the note.
        entries = {}
        for feed_path in ("/feed.atom", "/feed.xml"):
            with urllib.request.urlopen(f"{url}{feed_path}") as answer:
                entries[feed_path] = entry = feedparser.parse(answer.read()).entries[0]
            content = entry.get("content", [{}])[0].get("value") or entry.summary
            assert NEW_PHONE in content and OLD_PHONE not in content, feed_path
            assert shown in content, feed_path
        atom = entries["/feed.atom"]
        # Compared as written (to the microsecond), not as feedparser's seconds.
        assert datetime.fromisoformat(atom.updated) > datetime.fromisoformat(
            atom.published
        )

        # The administrator reads the whole path on the audit page.
        log_in(admin, url, "ada@example.se")
        admin.goto(f"{url}/editor/audit")
        assert_audit_lists(
            admin,
            [
                ("Granskning begärd", "eva@example.se"),
                ("Kommentar tillagd", "per@example.se"),
                ("Nummer godkänt", "per@example.se"),
                ("Artikel ändrad", "eva@example.se"),
                ("Godkännande återkallat", "eva@example.se"),
                ("Nummer godkänt", "per@example.se"),
                ("Utskick startat", "per@example.se"),
                ("Nummer skickat", "Bakgrundsprocessen"),
                ("Artikel rättad efter utskick", "per@example.se"),
            ],
        )
    finally:
        for context in contexts:
            context.close()


def assert_audit_lists(page, expected: list[tuple[str, str]]) -> None:
    """The audit table lists each action (by its readable name), by whom, in the
    order they happened (the table is newest first)."""
    rows = page.locator("table.audit tbody tr")
    listed = []
    for index in range(rows.count()):
        cells = rows.nth(index).locator("td")
        listed.append((cells.nth(2).inner_text().strip(), cells.nth(1).inner_text()))
    listed.reverse()
    position = 0
    for action, who in expected:
        found = [
            i
            for i, (name, actor) in enumerate(listed)
            if i >= position and name == action and who in actor
        ]
        assert found, (action, who, listed[position:])
        position = found[0] + 1
