"""Every public and editor page meets WCAG 2.1 AA as axe-core checks it in chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsletter import create_app
from newsletter.extensions import db
from newsletter.models import Contact, ContributionLink, Issue, Subscriber, Theme
from newsletter.models.types import utcnow
from newsletter.services import contributions
from newsletter.services.contributions import ProposalData
from newsletter.services.contributor_links import proposal_token, set_token
from newsletter.services.tokens import make_token
from tests.browser import live_server
from tests.conftest import PASSWORD, base_config, require, reset_schema
from tests.factories import make_editor, make_issue, make_item

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
        # Two saved contacts: the item form offers them, the directory can merge.
        for name, email in (("Maria Svensson", "maria@example.se"), ("Karin Ek", "")):
            db.session.add(Contact(name=name, email=email))
        db.session.commit()
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
            **_contribution_tokens(),
            "subscriber": subscriber.id,
            "app": app,
        }
    with live_server(app) as url:
        yield url, links
    with app.app_context():
        db.engine.dispose()


def _contribution_tokens() -> dict[str, str]:
    """A partner's contribution link, and a proposal sent through it."""
    link = ContributionLink(organisation="Kalmar kommun", contact_email="k@example.se")
    token = set_token(link)
    db.session.add(link)
    theme_id = db.session.scalar(db.select(Theme.id).order_by(Theme.id))
    data = ProposalData(
        title="Föräldraträffar", body="Text", theme_id=theme_id, proposer_email="k@e.se"
    )
    proposal = contributions.submit(link, data, "sv", utcnow())
    db.session.commit()
    return {"contribute": token, "proposal": proposal_token(proposal)}


PUBLIC = [
    "/",
    "/archive/{slug}",
    "/themes/aldre",
    "/subscribe",
    "/confirm/not-a-valid-token",
    "/preferences/{prefs}",
    "/unsubscribe/{unsub}",
    "/contribute/{contribute}",
    "/contribute/proposal/{proposal}",
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
    "/editor/contacts",
    "/editor/contacts/new",
    "/editor/contacts/1",
    "/editor/inbox",
    "/editor/inbox/1",
    "/editor/contributors",
    "/editor/contributors/1",
    "/editor/api-keys",
    "/editor/audit",
]


def log_in_on_the_page(page) -> None:
    """Log in as the administrator on the login page the browser shows."""
    page.get_by_label("E-postadress").fill("admin@example.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/editor/")


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


def test_issue_and_theme_pages_have_no_violations_at_phone_width(site, browser):
    """The pages with the neighbouring issues, the theme links and the short
    sign-up form, at 375 pixels (1280 is checked with the other public pages)."""
    url, links = site
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 375, "height": 800}, bypass_csp=True
    )
    page = context.new_page()
    found = {}
    for path in ("/", "/archive/{slug}", "/themes/aldre"):
        page.goto(url + path.format(**links))
        found[path] = violations(page)
    context.close()
    assert {path: v for path, v in found.items() if v} == {}


def test_the_short_sign_up_form_leads_to_the_prefilled_double_opt_in(site, page):
    url, links = site
    page.goto(url + "/archive/" + links["slug"])
    cta = page.get_by_role("complementary", name="Få nyhetsbrevet via e-post")
    cta.get_by_label("E-postadress").fill("kort@example.se")
    cta.get_by_role("button", name="Gå vidare till anmälan").click()
    page.wait_for_url("**/subscribe?email=*")
    assert page.get_by_label("E-postadress").input_value() == "kort@example.se"
    page.get_by_role("button", name="Prenumerera").click()
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Titta i din inkorg"


def test_editor_pages_have_no_accessibility_violations(site, page):
    url, links = site
    page.goto(url + "/editor/login")
    found = {"/editor/login": violations(page)}
    log_in_on_the_page(page)
    for path in EDITOR:
        page.goto(url + path.format(**links))
        found[path] = violations(page)
    page.goto(url + "/editor/issues/new")
    page.get_by_role("button", name="Skapa nummer").click()
    found["/editor/issues/new (errors)"] = violations(page)
    page.goto(url + "/editor/api-keys")
    page.get_by_label("Namn").fill("Regionens webb")
    page.get_by_role("button", name="Skapa nyckel").click()
    found["/editor/api-keys (new key shown)"] = violations(page)
    assert {path: v for path, v in found.items() if v} == {}


MARK_FOCUSABLE = """() => {
    const selector =
        'a[href], button, input, select, textarea, summary, iframe, [tabindex]';
    const expected = [];
    const groups = {};
    // The content of a closed <details> (all but its summary) is not reachable.
    const inClosedDetails = (el) => {
        const details = el.closest('details:not([open])');
        return details !== null && el.parentElement !== details;
    };
    document.querySelectorAll(selector).forEach((el, index) => {
        if (el.type === 'radio') {
            groups[el.name] ??= 'radio:' + el.name;
            el.dataset.kbd = groups[el.name];
        } else {
            el.dataset.kbd = el.tagName.toLowerCase() + ':' + index;
        }
        const style = getComputedStyle(el);
        if (el.disabled || el.type === 'hidden' || el.tabIndex < 0
            || el.closest('[inert]') || !el.getClientRects().length
            || style.visibility === 'hidden' || inClosedDetails(el)) return;
        if (!expected.includes(el.dataset.kbd)) expected.push(el.dataset.kbd);
    });
    const positive = [...document.querySelectorAll('[tabindex]')]
        .filter(el => el.tabIndex > 0);
    return {expected, positive: positive.map(el => el.outerHTML.slice(0, 80))};
}"""
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    let behind = 'rgba(0, 0, 0, 0)';
    for (let up = el.parentElement; up; up = up.parentElement) {
        behind = getComputedStyle(up).backgroundColor;
        if (!behind.endsWith(', 0)') && behind !== 'transparent') break;
    }
    const r = el.getBoundingClientRect();
    return {
        key: el.dataset.kbd || el.outerHTML.slice(0, 80),
        html: el.outerHTML.slice(0, 100),
        outline: [
            style.outlineStyle, parseFloat(style.outlineWidth), style.outlineColor
        ],
        shadow: style.boxShadow,
        behind: behind,
        onScreen: r.width > 1 && r.height > 1 && r.right > 0 && r.bottom > 0
            && r.left < innerWidth && r.top < innerHeight,
    };
}"""
RGB = re.compile(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)")


def luminance(colour: str) -> float:
    """The relative luminance of a CSS rgb() colour (WCAG 2.1 definition)."""
    red, green, blue = (int(part) / 255 for part in RGB.search(colour).groups()[:3])
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in
              (red, green, blue)]  # fmt: skip
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def keyboard_problems(page) -> list[str]:
    """Tab through the page: every control is reached in reading order, nothing
    traps focus, and each focused control is on screen with a focus indicator
    of at least 3:1 contrast against what surrounds it (WCAG 2.4.3, 2.4.7,
    2.1.2, 1.4.11)."""
    marked = page.evaluate(MARK_FOCUSABLE)
    problems = [f"positive tabindex: {html}" for html in marked["positive"]]
    page.evaluate("document.activeElement && document.activeElement.blur()")
    reached: list[str] = []
    stay = 0
    while stay < 100:  # a framed email has a few dozen links; more is a trap
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            # Focus entering a sandboxed (out-of-process) frame reaches the
            # document late on a busy machine: look again before concluding.
            page.wait_for_timeout(500)
            focused = page.evaluate(FOCUSED)
        if focused is None or (reached and focused["key"] == reached[0]):
            break  # past the last control: focus left the page or wrapped around
        if reached and reached[-1] == focused["key"]:
            stay += 1
            continue  # still inside a frame
        stay = 0
        reached.append(focused["key"])
        if focused["key"].startswith("iframe:"):
            continue  # the framed email has its own document
        if not focused["onScreen"]:
            problems.append(f"focused but not visible: {focused['html']}")
        style, width, colour = focused["outline"]
        rings = [colour] if style != "none" and width >= 2 else []
        rings += [match.group() for match in RGB.finditer(focused["shadow"])]
        if not any(contrast(ring, focused["behind"]) >= 3 for ring in rings):
            problems.append(f"no visible focus indicator: {focused['html']}")
    else:
        problems.append(f"focus never left the page (a trap?) after {reached[-3:]}")
    if reached != marked["expected"]:
        problems.append(
            f"tab order {reached} is not the reading order {marked['expected']}"
        )
    return problems


def test_every_page_can_be_used_from_the_keyboard(site, page):
    url, links = site
    found = {}
    for path in PUBLIC:
        page.goto(url + path.format(**links))
        found[path] = keyboard_problems(page)
    page.goto(url + "/editor/login")
    found["/editor/login"] = keyboard_problems(page)
    log_in_on_the_page(page)
    for path in EDITOR:
        page.goto(url + path.format(**links))
        found[path] = keyboard_problems(page)
    assert {path: v for path, v in found.items() if v} == {}


WIDER_THAN_WINDOW = """() => [...document.querySelectorAll('body *')]
    .filter(el => !el.closest('.table-scroll, pre, iframe'))
    .filter(el => el.getBoundingClientRect().right > innerWidth + 1)
    .filter(el => getComputedStyle(el).position !== 'absolute')
    .map(el => el.tagName.toLowerCase() + '.' + el.className + ' '
         + Math.round(el.getBoundingClientRect().right))
    .slice(0, 5)"""


def test_every_page_reflows_at_320_pixels(site, browser):
    """WCAG 1.4.10: at 320 CSS pixels nothing but a data table scrolls sideways."""
    url, links = site
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 320, "height": 640}
    )
    page = context.new_page()
    found = {}
    with links["app"].app_context():
        # An item with a long address in its text, published.
        issue = make_issue("Långa adresser")
        make_item(issue, "aldre", "Lång länk", body="https://example.se/" + "a" * 140)
        issue.status, issue.published_at = "sent", utcnow()
        db.session.commit()
        slug = issue.slug
    paths = [*PUBLIC, f"/archive/{slug}"]
    for path in paths:
        page.goto(url + path.format(**links))
        found[path] = page.evaluate(WIDER_THAN_WINDOW)
    page.goto(url + "/editor/login")
    log_in_on_the_page(page)
    for path in EDITOR:
        page.goto(url + path.format(**links))
        found[path] = page.evaluate(WIDER_THAN_WINDOW)
    context.close()
    assert {path: v for path, v in found.items() if v} == {}


def tab_to(page, selector: str, limit: int = 100) -> None:
    """Press Tab, as a keyboard user would, until the focus is on ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def focused_text(page) -> str:
    return page.evaluate("document.activeElement.textContent.trim()")


def test_a_visitor_subscribes_from_the_keyboard(site, page):
    url, links = site
    page.goto(url + "/subscribe")
    page.keyboard.press("Tab")
    assert focused_text(page) == "Hoppa till innehållet"
    page.keyboard.press("Enter")  # the next Tab starts in the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    tab_to(page, "input[type=email]")
    page.keyboard.type("tangentbord@example.se")
    tab_to(page, "input[type=checkbox]")  # the first theme: Barn och unga
    page.keyboard.press("Space")
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Titta i din inkorg").wait_for()
    with links["app"].app_context():
        person = db.session.scalar(
            db.select(Subscriber).filter_by(email="tangentbord@example.se")
        )
        assert person.status == "pending"
        assert sorted(t.slug for t in person.themes) == ["aldre", "psykisk-halsa"]


def test_an_editor_works_from_the_keyboard(site, page):
    url, links = site
    page.goto(url + "/editor/login")
    tab_to(page, "input[type=email]")
    page.keyboard.type("admin@example.se")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/editor/")
    with links["app"].app_context():
        draft = make_issue("Tangentbordsnumret")
        first = make_item(draft, "aldre", "Första artikeln")
        second = make_item(draft, "aldre", "Andra artikeln")
        draft_id, first_id, second_id = draft.id, first.id, second.id
        first_title = first.title
    page.goto(f"{url}/editor/issues/{draft_id}")
    # Move the first item down; the focus then continues at the moved item.
    tab_to(page, f'button[aria-label="Flytta ned {first_title}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/editor/issues/{draft_id}#item-{first_id}")
    order = page.locator(f"#item-{second_id} ~ #item-{first_id}")
    assert order.count() == 1
    page.keyboard.press("Tab")
    assert focused_text(page) == first_title
    # Add an item to a section, with Enter on the link and in the form.
    tab_to(page, "a.button[href*='/items/new']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/items/new**")
    tab_to(page, "input[name=title]")
    page.keyboard.type("Skrivet med tangentbordet")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/editor/issues/{draft_id}(#.*)?$"))
    assert page.get_by_role("link", name="Skrivet med tangentbordet").is_visible()


def test_unsaved_edits_are_not_lost_to_the_language_switch(site, page):
    url, _links = site
    page.goto(url + "/editor/login")
    log_in_on_the_page(page)
    page.goto(url + "/editor/issues/new")
    page.get_by_label("Rubrik").fill("Halvfärdigt nummer")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.get_by_role("button", name="English").click(no_wait_after=True)
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.get_by_label("Rubrik").input_value() == "Halvfärdigt nummer"
    # Saving the form itself does not ask.
    page.get_by_role("button", name="Skapa nummer").click()
    page.wait_for_url("**/editor/issues/*")
    assert asked == ["beforeunload"]


def test_a_test_send_error_is_brought_into_view(site, page):
    url, _links = site
    page.goto(url + "/editor/login")
    log_in_on_the_page(page)
    page.goto(url + "/editor/issues/2/email")
    page.get_by_label("Skicka ett test till").fill("inte-en-adress")
    page.get_by_role("button", name="Skicka test").click()
    error = page.locator("p.error").first
    error.wait_for()
    box = error.bounding_box()
    assert 0 <= box["y"] <= page.viewport_size["height"], box


def test_the_checker_itself_finds_violations(site, page):
    page.set_content("<html><body><input><img src='x.png'></body></html>")
    found = violations(page)
    assert any(v.startswith("label:") for v in found)
    assert any(v.startswith("image-alt:") for v in found)
