"""A visitor searches the archive from the header with an inflected Swedish word,
follows the result and lands on the item in its issue, in a real browser."""

from __future__ import annotations

import pytest

from newsletter.extensions import db
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.browser import live_site
from tests.conftest import require
from tests.factories import make_issue, make_item
from tests.test_accessibility import AXE, violations

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path):
    """A live site with one published issue: an item about the elderly among
    others, so that the one found lies below the fold."""
    with live_site(tmp_path) as (app, url):
        with app.app_context():
            issue = make_issue("Nyhetsbrev oktober")
            for n in range(6):
                make_item(issue, "barn-och-unga", f"Fritidsgård {n}", body="Ungdomar.")
            item = make_item(
                issue,
                "aldre",
                "Ensamhet bland äldre",
                body="Ett webbinarium om ofrivillig ensamhet.",
            )
            sending.start_sending(issue.id, utcnow())
            db.session.commit()
            yield url, item.id


@pytest.fixture
def axe_page(browser):
    """A page whose Content-Security-Policy lets the test inject axe-core."""
    require(AXE.exists(), f"{AXE} is missing: run `npm install`")
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_an_inflected_word_leads_to_the_item_in_its_issue(site, page):
    from playwright.sync_api import expect

    url, item_id = site
    page.goto(url + "/")
    header = page.get_by_role("search", name="Sök i arkivet")
    header.get_by_label("Sök i arkivet").fill("äldres")
    header.get_by_role("button", name="Sök").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sök i arkivet")
    expect(page.get_by_text("1 träff")).to_be_visible()
    result = page.get_by_role("link", name="Ensamhet bland äldre")
    expect(result.locator("mark")).to_have_text("äldre")
    result.click()
    page.wait_for_url(f"**/archive/nyhetsbrev-oktober#item-{item_id}")
    target = page.locator(":target")
    expect(target).to_have_attribute("id", f"item-{item_id}")
    expect(target.get_by_role("heading", level=3)).to_have_text("Ensamhet bland äldre")
    expect(target).to_be_in_viewport()


def test_the_search_page_has_no_accessibility_violations(site, axe_page):
    url, _item_id = site
    found = {}
    for width in (1280, 375):
        axe_page.set_viewport_size({"width": width, "height": 900})
        for query in ("q=äldre", "q=simhall&theme=aldre", "", "q=" + "x" * 201):
            axe_page.goto(f"{url}/search?{query}")
            found[(width, query[:20])] = violations(axe_page)
    assert {key: v for key, v in found.items() if v} == {}


def test_results_read_as_text_in_a_search_box_as_large_as_the_filters(site, page):
    url, _item_id = site
    page.set_viewport_size({"width": 375, "height": 900})
    page.goto(url + "/search?q=äldre")
    snippet = page.locator(".search-hit .snippet").first
    font = snippet.evaluate("e => getComputedStyle(e).fontFamily")
    body_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert font == body_font  # prose, not code
    box = page.get_by_label("Sök efter").bounding_box()
    theme = page.get_by_label("Tema").bounding_box()
    assert box and theme
    assert box["height"] >= theme["height"] - 2  # a finger-sized field, like Tema
