"""Every public and editor page meets WCAG 2.1 AA as axe-core checks it in chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter import create_app
from newsletter.extensions import db
from newsletter.models import Issue, Subscriber
from newsletter.services.tokens import make_token
from tests.browser import live_server
from tests.conftest import PASSWORD, base_config, require, reset_schema
from tests.factories import make_editor

pytestmark = pytest.mark.browser

AXE = (
    Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
)
RUN_AXE = """async () => (await axe.run(document, {
    runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
})).violations.map(
    v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')
)"""


@pytest.fixture
def page(browser):
    """A page whose Content-Security-Policy lets the test inject axe-core."""
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site with the demo content, an admin, and links of a demo subscriber."""
    require(AXE.exists(), f"{AXE} is missing: run `npm install`")
    folder = tmp_path_factory.mktemp("a11y")
    app = create_app(
        base_config(
            f"sqlite:///{folder / 'a11y.sqlite3'}", MAILBOX_PATH=str(folder / "mail")
        )
    )
    reset_schema(app)
    app.test_cli_runner().invoke(args=["demo"])
    with app.app_context():
        make_editor(email="admin@example.se", name="Ada Admin", is_admin=True)
        subscriber = db.session.scalar(db.select(Subscriber).order_by(Subscriber.id))
        sent = db.session.scalar(db.select(Issue).filter_by(status="sent"))
        links = {
            "prefs": make_token(
                "preferences", subscriber.id, subscriber.token_version, subscriber.email
            ),
            "unsub": make_token(
                "unsubscribe", subscriber.id, subscriber.token_version, subscriber.email
            ),
            "slug": sent.slug,
            "subscriber": subscriber.id,
        }
    with live_server(app) as url:
        yield url, links
    with app.app_context():
        db.engine.dispose()


PUBLIC = [
    "/",
    "/archive/{slug}",
    "/themes/aldre",
    "/subscribe",
    "/confirm/not-a-valid-token",
    "/preferences/{prefs}",
    "/unsubscribe/{unsub}",
]
EDITOR = [
    "/editor/",
    "/editor/issues/new",
    "/editor/issues/1",
    "/editor/issues/2",
    "/editor/items/1",
    "/editor/issues/1/preview",
    "/editor/issues/2/email",
    "/editor/issues/2/send",
    "/editor/issues/2/import-feed",
    "/editor/issues/1/progress",
    "/editor/themes",
    "/editor/themes/1",
    "/editor/editors",
    "/editor/editors/1",
    "/editor/account",
    "/editor/subscribers",
    "/editor/subscribers/{subscriber}",
    "/editor/subscribers/import",
    "/editor/subscribers/embed",
]


def violations(page) -> list[str]:
    """Inject axe-core and return its violations on the current page."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)


def test_public_pages_have_no_accessibility_violations(site, page):
    url, links = site
    found = {}
    for path in PUBLIC:
        page.goto(url + path.format(**links))
        found[path] = violations(page)
    # The sign-up answer and a form with errors, too.
    page.goto(url + "/subscribe")
    page.get_by_role("button", name="Prenumerera").click()
    found["/subscribe (errors)"] = violations(page)
    page.get_by_label("E-postadress").fill("ny@example.se")
    page.get_by_role("button", name="Prenumerera").click()
    found["/subscribe (answer)"] = violations(page)
    assert {path: v for path, v in found.items() if v} == {}


def test_editor_pages_have_no_accessibility_violations(site, page):
    url, links = site
    page.goto(url + "/editor/login")
    found = {"/editor/login": violations(page)}
    page.get_by_label("E-postadress").fill("admin@example.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    for path in EDITOR:
        page.goto(url + path.format(**links))
        found[path] = violations(page)
    page.goto(url + "/editor/issues/new")
    page.get_by_role("button", name="Skapa nummer").click()
    found["/editor/issues/new (errors)"] = violations(page)
    assert {path: v for path, v in found.items() if v} == {}


def test_the_editor_works_from_the_keyboard(site, page):
    url, _ = site
    page.goto(url + "/editor/login")
    page.keyboard.press("Tab")  # the skip link comes first
    assert (
        page.evaluate("document.activeElement.textContent") == "Hoppa till innehållet"
    )
    page.get_by_label("E-postadress").focus()
    page.keyboard.type("admin@example.se")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/editor/")
    assert page.get_by_role("heading", name="Nummer").is_visible()


def test_the_checker_itself_finds_violations(site, page):
    page.set_content("<html><body><input><img src='x.png'></body></html>")
    found = violations(page)
    assert any(v.startswith("label:") for v in found)
    assert any(v.startswith("image-alt:") for v in found)
