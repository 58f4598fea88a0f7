"""A reader signs up, confirms, picks themes and unsubscribes, in a real browser."""

from __future__ import annotations

import re
import urllib.request

import pytest

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.browser import live_site
from tests.factories import make_issue, make_item, make_subscriber

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path):
    """The app, its live URL, and a local mail catcher the worker sends to."""
    with live_site(tmp_path) as site:
        yield site


def send_issue(app, title: str) -> None:
    """Compose an issue with an item in every theme and let a worker send it."""
    with app.app_context():
        issue = make_issue(title)
        for slug in ("barn-och-unga", "psykisk-halsa", "aldre"):
            make_item(issue, slug, f"Nytt inom {slug}")
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
    Worker(app).run(once=True)


def open_latest_mail(page, url: str) -> str:
    """Open the newest message in the catcher and return its text part."""
    page.goto(f"{url}/dev/mail/")
    page.locator("table.list tbody tr a").first.click()
    return page.locator("pre.email-text").inner_text()


def test_reader_signs_up_confirms_changes_themes_and_unsubscribes(site, page):
    from playwright.sync_api import expect

    app, url = site
    page.goto(f"{url}/subscribe")
    page.get_by_label("E-postadress").fill("lasare@example.se")
    page.get_by_label("Namn (valfritt)").fill("Lina Läsare")
    page.get_by_role("button", name="Prenumerera").click()
    expect(page.get_by_role("heading", name="Titta i din inkorg")).to_be_visible()

    Worker(app).run(once=True)
    text = open_latest_mail(page, url)
    confirm = re.search(r"http://127\.0\.0\.1:\d+/confirm/\S+", text).group(0)
    page.goto(confirm)
    page.get_by_role("button", name="Bekräfta min prenumeration").click()
    expect(page.get_by_role("heading", name="Du prenumererar nu")).to_be_visible()

    # Keep only Äldre on the preference page.
    page.get_by_role("link", name="Ändra teman eller språk").click()
    page.get_by_label("Barn och unga").uncheck()
    page.get_by_label("Psykisk hälsa").uncheck()
    page.get_by_role("button", name="Spara mina val").click()
    expect(page.get_by_text("Dina val är sparade.")).to_be_visible()

    send_issue(app, "Nyhetsbrev mars 2026")
    text = open_latest_mail(page, url)
    assert "Nytt inom aldre" in text
    assert "Nytt inom barn-och-unga" not in text
    assert "Nytt inom psykisk-halsa" not in text

    # The mail client's one-click unsubscribe: a cookieless POST.
    page.goto(f"{url}/dev/mail/")
    page.locator("table.list tbody tr a").first.click()
    header = page.locator(
        "xpath=//dt[text()='List-Unsubscribe']/following-sibling::dd[1]"
    ).inner_text()
    unsubscribe = re.search(r"<(http[^>]+)>", header).group(1)
    request = urllib.request.Request(
        unsubscribe,
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200

    page.goto(f"{url}/dev/mail/")
    mails_before = page.locator("table.list tbody tr").count()
    assert mails_before == 2  # the confirmation and the March issue
    send_issue(app, "Nyhetsbrev juni 2026")
    page.goto(f"{url}/dev/mail/")
    assert page.locator("table.list tbody tr").count() == mails_before


def test_a_link_in_a_caught_email_opens_our_page_in_a_new_tab(site, page):
    from playwright.sync_api import expect

    app, url = site
    with app.app_context():
        make_subscriber("lasare@example.se")
    send_issue(app, "Nyhetsbrev april 2026")
    open_latest_mail(page, url)
    shown = page.url
    email = page.frame_locator("iframe.email-desktop")
    # The web version of the issue: one of our own pages, which refuse any frame.
    with page.context.expect_page() as opened:
        email.locator(f"a[href='{url}/archive/nyhetsbrev-april-2026']").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url == f"{url}/archive/nyhetsbrev-april-2026"
    expect(tab.get_by_role("heading", name="Nyhetsbrev april 2026")).to_be_visible()
    assert page.url == shown  # the catcher still shows the email
