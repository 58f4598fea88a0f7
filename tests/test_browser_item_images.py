"""An item's image in a real browser: chosen in the item form, refused without alt
text, saved, shown as a thumbnail; the form passes axe at desktop and phone width,
and a sharp screen loads the 1200 px variant of the preview."""

from __future__ import annotations

import pytest

from newsletter.extensions import db
from newsletter.mail.emails import preview_email
from newsletter.models import Item
from newsletter.services import media
from tests.browser import live_site
from tests.conftest import require
from tests.factories import make_editor, make_issue, make_item
from tests.test_accessibility import AXE, log_in_on_the_page, violations
from tests.test_media import photo

pytestmark = pytest.mark.browser

ALT = "Två barn bygger en koja av grenar i skogen."


@pytest.fixture
def site(tmp_path):
    """A live site with an administrator and one item in a draft issue."""
    require(AXE.exists(), f"{AXE} is missing: run `npm install`")
    with live_site(tmp_path) as (app, url):
        with app.app_context():
            make_editor(email="admin@example.se", name="Ada Admin", is_admin=True)
            item = make_item(make_issue(), "aldre", "Koja i skogen")
            ids = item.id, item.issue_id
        yield app, url, ids


def context_page(browser, width: int, scale: float = 1):
    """A Swedish page of a given width whose CSP lets the test inject axe-core."""
    context = browser.new_context(
        locale="sv-SE",
        viewport={"width": width, "height": 900},
        device_scale_factor=scale,
        bypass_csp=True,
    )
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_an_image_is_chosen_described_and_shown_on_the_form(site, browser, tmp_path):
    app, url, (item_id, issue_id) = site
    picture = tmp_path / "koja.jpg"
    picture.write_bytes(photo())
    context, page = context_page(browser, 1280)
    try:
        page.goto(url + "/editor/login")
        log_in_on_the_page(page)
        page.goto(f"{url}/editor/items/{item_id}")
        page.get_by_label("Bildfil").set_input_files(str(picture))
        page.get_by_role("button", name="Spara artikel").last.click()
        alt_field = page.get_by_label("Alternativtext")
        assert alt_field.get_attribute("aria-invalid") == "true"
        assert page.locator(".image-thumbnail img").count() == 1  # upload kept
        assert violations(page) == []
        alt_field.fill(ALT)
        page.get_by_role("button", name="Spara artikel").last.click()
        page.wait_for_url(f"**/editor/issues/{issue_id}#item-{item_id}")
        with app.app_context():
            item = db.session.get(Item, item_id)
            assert (item.image_alt, item.image_width) == (ALT, 1200)
        page.goto(f"{url}/editor/items/{item_id}")
        thumbnail = page.locator(".image-thumbnail img")
        assert thumbnail.get_attribute("alt") == ALT
        assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 600
        assert violations(page) == []
    finally:
        context.close()
    context, phone = context_page(browser, 375)
    try:
        phone.goto(url + "/editor/login")
        log_in_on_the_page(phone)
        phone.goto(f"{url}/editor/items/{item_id}")
        assert violations(phone) == []
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, "the form scrolls sideways on a phone"
    finally:
        context.close()


def test_a_sharp_screen_loads_the_large_variant_of_the_preview(site, browser):
    app, url, (item_id, issue_id) = site
    with app.app_context():
        stored = media.store_image(photo())
        item = db.session.get(Item, item_id)
        item.image, item.image_alt = stored.name, ALT
        item.image_width, item.image_height = stored.width, stored.height
        db.session.commit()
    context, page = context_page(browser, 1280, scale=2)
    try:
        page.goto(url + "/editor/login")
        log_in_on_the_page(page)
        page.goto(f"{url}/editor/issues/{issue_id}/preview")
        image = page.get_by_role("img", name=ALT)
        image.scroll_into_view_if_needed()
        page.wait_for_function("() => [...document.images].every(img => img.complete)")
        assert image.evaluate("img => img.currentSrc").endswith(
            media.variant_name(stored.name, 1200)
        )
        assert image.bounding_box()["width"] == 600
    finally:
        context.close()


def email_with_image(app) -> tuple[str, bytes]:
    """The HTML of an issue email whose item has a photo, and that photo's large
    variant as the email links it."""
    with app.app_context():
        stored = media.store_image(photo())
        item = make_item(make_issue("Med bild"), "aldre", "Koja", body="Text.")
        item.image, item.image_alt = stored.name, ALT
        item.image_width, item.image_height = stored.size_at(1200)
        db.session.commit()
        html = preview_email(item.issue, "sv").html
        large = media.media_path() / stored.variant(1200)
        return html, large.read_bytes()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_email_image_keeps_its_shape_at_phone_and_desktop_width(
    site, browser, width
):
    app, _url, _ids = site
    html, image = email_with_image(app)
    context, page = context_page(browser, width)
    try:
        page.route(
            "**/media/*",
            lambda route: route.fulfill(body=image, content_type="image/jpeg"),
        )
        page.set_content(html, wait_until="load")
        box = page.get_by_role("img", name=ALT).bounding_box()
        assert box["width"] <= min(width, 552)
        assert abs(box["width"] / box["height"] - 1.6) < 0.02
    finally:
        context.close()


def test_with_images_blocked_the_email_shows_the_alt_text_in_its_room(site, browser):
    app, _url, _ids = site
    html, _image = email_with_image(app)
    context, page = context_page(browser, 1280)
    try:
        page.route("**/media/*", lambda route: route.abort())
        page.set_content(html, wait_until="load")
        image = page.get_by_role("img", name=ALT)
        assert image.evaluate("img => img.complete && img.naturalWidth") == 0
        box = image.bounding_box()
        assert box["width"] == 552 and box["height"] > 100, box
        assert page.get_by_text("Text.").is_visible()
    finally:
        context.close()
