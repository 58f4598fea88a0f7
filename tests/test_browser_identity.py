"""The identity settings in a real browser: the page passes axe at desktop and phone
width, the colour picker fills the colour field, and the site takes the new colour,
name and logo at once."""

from __future__ import annotations

import pytest

from tests.browser import live_site
from tests.factories import make_editor
from tests.test_accessibility import AXE, PASSWORD, RUN_AXE
from tests.test_identity import png

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path):
    """The app on a SQLite file with an administrator, and its live URL."""
    with live_site(tmp_path) as (app, url):
        with app.app_context():
            make_editor(email="admin@example.se", name="Ada Admin", is_admin=True)
        yield app, url


def violations(page) -> list[str]:
    """Inject axe-core and return its violations on the current page."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)


def open_settings(browser, url: str, width: int):
    """Log in as the administrator and open the settings page at a width."""
    context = browser.new_context(
        locale="sv-SE", viewport={"width": width, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{url}/editor/login")
    page.get_by_label("E-postadress").fill("admin@example.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/editor/")
    page.goto(f"{url}/editor/settings")
    return context, page


@pytest.mark.parametrize("width", [1280, 375])
def test_the_settings_page_passes_axe_with_a_logo_and_with_errors(
    site, browser, tmp_path, width
):
    _app, url = site
    context, page = open_settings(browser, url, width)
    found = {"empty": violations(page)}
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    page.get_by_label("Organisation", exact=True).fill("Kalmar län")
    page.get_by_label("Logotyp", exact=True).set_input_files(str(logo))
    page.get_by_role("button", name="Spara").click()
    page.wait_for_selector(".flash-success")
    found["with a logo"] = violations(page)
    assert page.get_by_role("img", name="Kalmar län").count() == 2  # header, preview
    page.get_by_label("Profilfärg", exact=True).fill("#ffcc00")
    page.get_by_role("button", name="Spara").click()
    assert "1,51:1" in page.locator("#brand_colour-error").inner_text()
    found["with errors"] = violations(page)
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
    assert {state: v for state, v in found.items() if v} == {}


def test_the_picked_colour_is_saved_and_the_header_takes_it(site, browser):
    _app, url = site
    context, page = open_settings(browser, url, 1280)
    page.get_by_label("Nyhetsbrevets namn").fill("Samverkansbrevet")
    picker = page.get_by_label("Välj profilfärg")
    picker.fill("#6b2c91")  # what choosing in the colour dialog does
    assert page.get_by_label("Profilfärg", exact=True).input_value() == "#6b2c91"
    page.get_by_role("button", name="Spara").click()
    page.wait_for_selector(".flash-success")
    page.goto(url + "/")
    header = page.locator(".site-header")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == (
        "rgb(107, 44, 145)"
    )
    assert header.get_by_text("Samverkansbrevet").is_visible()
    context.close()


def test_a_logo_chosen_with_a_refused_colour_is_shown_and_saved_next(
    site, browser, tmp_path
):
    _app, url = site
    context, page = open_settings(browser, url, 375)
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    page.get_by_label("Organisation", exact=True).fill("Kalmar län")
    page.get_by_label("Logotyp", exact=True).set_input_files(str(logo))
    page.get_by_label("Profilfärg", exact=True).fill("#ffcc00")
    page.get_by_role("button", name="Spara").click()
    page.locator("#brand_colour-error").wait_for()
    assert page.get_by_text("Den valda logotypen").is_visible()
    assert violations(page) == []
    page.get_by_label("Profilfärg", exact=True).fill("#00507a")
    page.get_by_role("button", name="Spara").click()
    page.wait_for_selector(".flash-success")
    assert page.locator(".site-header").get_by_role("img", name="Kalmar län").count()
    context.close()
