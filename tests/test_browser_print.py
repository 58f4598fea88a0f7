"""A printed archive page is the issue alone, black on white, with every web
address written after its link (once), in a real browser's print media."""

from __future__ import annotations

import pytest

from newsletter.extensions import db
from newsletter.models.types import utcnow
from tests.browser import live_site
from tests.factories import make_issue, make_item

pytestmark = pytest.mark.browser

LINK = "https://example.se/vagledning"
BARE = "https://example.se/anmalan"


def after(page, selector: str) -> str:
    """What the print stylesheet writes after the first element matching selector."""
    return page.evaluate(
        "s => getComputedStyle(document.querySelector(s), '::after').content",
        selector,
    )


def test_printing_an_issue_hides_navigation_and_writes_out_addresses(tmp_path, browser):
    with live_site(tmp_path) as (app, url):
        with app.app_context():
            issue = make_issue("Nyhetsbrev mars")
            make_item(
                issue,
                "aldre",
                "Vägledning",
                body="Läs mer på https://example.se/mer eller [här](https://example.se/har).",
                links=[("Läs vägledningen", LINK), (BARE, BARE)],
                contact_email="olle@example.se",
            )
            issue.status = "sent"
            issue.published_at = utcnow()
            db.session.commit()
            slug = issue.slug
        context = browser.new_context(locale="sv-SE")
        page = context.new_page()
        page.goto(f"{url}/archive/{slug}")
        assert page.locator(".site-header").is_visible()
        page.emulate_media(media="print")
        assert not page.locator(".site-header").is_visible()
        assert not page.locator("nav.toc").is_visible()
        assert not page.locator("form.language").is_visible()
        # The handout says whose it is: the organisation in the footer stays.
        assert page.locator(".footer-organisation").is_visible()
        assert after(page, f"a[href='{LINK}']") == f'" ({LINK})"'
        assert after(page, f"a[href='{BARE}']") == "none", "no address twice"
        assert after(page, "a[href^='mailto:']") == "none"
        # Addresses written in the text are links showing themselves: once.
        assert after(page, "a[href='https://example.se/mer']") == "none"
        assert after(page, "a[href='https://example.se/har']") == (
            '" (https://example.se/har)"'
        )
        assert page.evaluate("() => document.scripts.length") == 0
        colour = page.evaluate("() => getComputedStyle(document.body).color")
        assert colour == "rgb(0, 0, 0)"
        context.close()
