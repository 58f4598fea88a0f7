"""An editor composes an issue in a real browser."""

from __future__ import annotations

import re

import pytest

from newsletter.extensions import db
from tests.factories import make_editor

pytestmark = pytest.mark.browser


@pytest.fixture
def editor_account(sqlite_app):
    with sqlite_app.app_context():
        make_editor(email="eva@example.se", name="Eva Editor")
        db.session.commit()


def fill_item(page, title, body, links):
    """Fill the item form: section Psykisk hälsa, text and link rows."""
    page.get_by_label("Tema", exact=True).select_option(label="Psykisk hälsa")
    page.get_by_label("Rubrik").fill(title)
    page.get_by_label("Text", exact=True).fill(body)
    for index, (label, url) in enumerate(links):
        page.locator(f"#links-{index}-text").fill(label)
        page.locator(f"#links-{index}-url").fill(url)
    page.get_by_role("button", name="Spara artikeln").click()


def test_editor_composes_an_issue_and_previews_it(
    page, live_url, editor_account, tmp_path
):
    page.goto(f"{live_url}/editor/")
    expect = pytest.importorskip("playwright.sync_api").expect

    # Anonymous: sent to the login form. A wrong password gets one clear message.
    page.get_by_label("E-postadress").fill("eva@example.se")
    page.get_by_label("Lösenord").fill("fel lösenord")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_text("Fel e-postadress eller lösenord.")).to_be_visible()
    page.get_by_label("Lösenord").fill("correct horse battery")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Nummer")).to_be_visible()

    # Create an issue.
    page.get_by_role("link", name="Nytt nummer").click()
    page.get_by_label("Rubrik").fill("Nyhetsbrev februari 2026")
    page.get_by_label("Förhandsvisningstext (visas i inkorgen)").fill(
        "Konferens och ny vägledning"
    )
    page.get_by_role("button", name="Skapa nummer").click()
    expect(page.get_by_text("Numret är skapat.")).to_be_visible()
    expect(page.get_by_label("Kortnamn i webbadressen")).to_have_value(
        "nyhetsbrev-februari-2026"
    )

    # An item with two links in Psykisk hälsa; the third link row is added by script.
    page.get_by_role("link", name="Lägg till artikel i Psykisk hälsa").click()
    page.get_by_role("button", name="Lägg till en länk till").click()
    expect(page.locator("#links-2-text")).to_be_focused()
    fill_item(
        page,
        "Regional konferens om ungas psykiska hälsa",
        "Den **12 mars** samlas region, kommuner och skolor.",
        [
            ("Program", "https://konferens.example.se/program"),
            ("Anmälan", "https://konferens.example.se/anmalan"),
        ],
    )
    expect(page.get_by_text("Artikeln är tillagd.")).to_be_visible()

    # A second item in the same section, then moved above the first.
    page.get_by_role("link", name="Lägg till artikel i Psykisk hälsa").click()
    fill_item(page, "Vilken vårdnivå hjälper?", "En ny vägledning.", [])
    page.get_by_role("button", name="Flytta upp Vilken vårdnivå hjälper?").click()
    section = page.locator("#theme-psykisk-halsa")
    expect(section.locator("h4")).to_have_text(
        ["Vilken vårdnivå hjälper?", "Regional konferens om ungas psykiska hälsa"]
    )

    # The preview shows the section, both items in the new order, and the links.
    page.get_by_role("link", name="Förhandsgranska").click()
    expect(page.get_by_role("heading", name="Psykisk hälsa", level=2)).to_be_visible()
    expect(page.locator("article.news-item h3")).to_have_text(
        ["Vilken vårdnivå hjälper?", "Regional konferens om ungas psykiska hälsa"]
    )
    expect(page.get_by_role("link", name="Program")).to_have_attribute(
        "href", "https://konferens.example.se/program"
    )
    expect(page.get_by_role("link", name="Anmälan")).to_have_attribute(
        "href", "https://konferens.example.se/anmalan"
    )
    expect(page.locator("strong", has_text="12 mars")).to_be_visible()
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    assert re.search(r"/editor/issues/\d+/preview$", page.url)


def test_the_issue_email_stacks_on_a_phone_and_is_centred_on_a_desktop(
    sqlite_app, browser
):
    from newsletter.mail.emails import preview_email
    from tests.factories import make_issue, make_item

    with sqlite_app.app_context():
        issue = make_issue()
        for slug in ("barn-och-unga", "psykisk-halsa", "aldre"):
            make_item(
                issue,
                slug,
                f"En lång rubrik om {slug} som bryts på smala skärmar",
                links=[("Läs mer", "https://example.se/las-mer")],
                contact_name="Karin Ek",
                contact_email="karin.ek@example.se",
            )
        html = preview_email(issue, "sv").html
    widths = {}
    for viewport in (375, 1280):
        context = browser.new_context(viewport={"width": viewport, "height": 900})
        page = context.new_page()
        page.set_content(html)
        widths[viewport] = page.evaluate(
            """() => {
                const box = document.querySelector('div[style*="max-width:600px"]')
                    .getBoundingClientRect();
                return {
                    left: box.left, width: box.width,
                    page: document.documentElement.scrollWidth,
                };
            }"""
        )
        context.close()
    phone, desktop = widths[375], widths[1280]
    assert phone["page"] <= 375  # nothing forces sideways scrolling
    assert phone["width"] <= 375
    assert desktop["width"] == 600
    assert abs(desktop["left"] - (1280 - 600) / 2) <= 1  # centred


def _contrast(fg: list[float], bg: list[float]) -> float:
    """WCAG contrast ratio of two [r, g, b] colours in 0-255."""

    def luminance(rgb: list[float]) -> float:
        r, g, b = (
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (v / 255 for v in rgb)
        )
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# Text colour and the first opaque background behind it, as [r, g, b] lists.
COLOURS_JS = """(selector) => {
    const rgb = (value) => value.match(/[\\d.]+/g).slice(0, 4).map(Number);
    const el = document.querySelector(selector);
    let back = el;
    while (back) {
        const c = rgb(getComputedStyle(back).backgroundColor);
        if (c.length < 4 || c[3] > 0) return {
            text: rgb(getComputedStyle(el).color).slice(0, 3), back: c.slice(0, 3),
        };
        back = back.parentElement;
    }
    return {text: rgb(getComputedStyle(el).color).slice(0, 3), back: [255, 255, 255]};
}"""


def test_the_issue_email_has_a_dark_mode_that_keeps_contrast(sqlite_app, browser):
    from newsletter.mail.emails import preview_email
    from tests.factories import make_issue, make_item

    with sqlite_app.app_context():
        issue = make_issue(intro="Välkommen till vårens nummer.")
        make_item(
            issue,
            "aldre",
            "Ensamhet bland äldre",
            body="En ny rapport om ensamhet.",
            links=[("Rapporten", "https://example.se/rapport")],
            contact_name="Karin Ek",
            contact_email="karin.ek@example.se",
        )
        html = preview_email(issue, "sv").html
    parts = {
        "body text": ".content td > div p",
        "heading": ".content h2",
        "item heading": ".content h3",
        "link": ".content li a",
        "contact": "td.contact p",
        "footer": ".footer p",
        "footer link": ".footer a",
    }
    seen = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 600, "height": 900})
        page = context.new_page()
        page.emulate_media(color_scheme=scheme)
        page.set_content(html)
        seen[scheme] = {
            name: page.evaluate(COLOURS_JS, sel) for name, sel in parts.items()
        }
        context.close()
    assert 'name="color-scheme" content="light dark"' in html
    for name in parts:
        light, dark = seen["light"][name], seen["dark"][name]
        assert dark != light, name  # dark mode really changes the colours
        assert sum(dark["back"]) < sum(light["back"]), name  # and darkens the page
        ratio = _contrast(dark["text"], dark["back"])
        assert ratio >= 4.5, (name, dark, ratio)
        assert _contrast(light["text"], light["back"]) >= 4.5, (name, light)
