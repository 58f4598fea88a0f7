"""The editor's tables on a phone (375 CSS pixels): the page never scrolls sideways
and no word is split over two lines."""

from __future__ import annotations

import pytest

from newsletter.extensions import db
from newsletter.services import api_keys, audit, contacts
from newsletter.services.contacts import ContactData
from tests.browser import live_site
from tests.factories import make_editor
from tests.test_accessibility import AXE, PASSWORD, RUN_AXE

pytestmark = pytest.mark.browser

PHONE = 375

# Words of up to 20 characters fit a phone's line: none of them may be split. (A
# longer one, such as a web address in a changed text, may wrap where it must.)
SPLIT_WORDS = """(selector) => {
    const split = [];
    for (const cell of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.data.matchAll(/\\S+/g)) {
                if (match[0].length > 20) continue;
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const lines = new Set(
                    [...range.getClientRects()].map(r => Math.round(r.top))
                );
                if (lines.size > 1) split.push(match[0]);
            }
        }
    }
    return [...new Set(split)].slice(0, 10);
}"""


@pytest.fixture
def site(tmp_path):
    """A site with an administrator, a few contacts, an API key and a page of audit
    entries."""
    with live_site(tmp_path) as (app, url):
        with app.app_context():
            admin = make_editor(
                email="ada.admin@example.se", name="Ada Admin", is_admin=True
            )
            for name, title, organisation, phone, email in (
                ("Maria Svensson", "Utvecklingsledare", "Region Kalmar län",
                 "0480-837 78", "maria.svensson@regionkalmar.se"),
                ("Karin Ek", "Samordnare", "Kalmar kommun", "0480-450 00",
                 "karin.ek@kalmar.se"),
                ("Johan Lindqvist", "Socialsekreterare", "Nybro kommun",
                 "0481-450 00", "johan.lindqvist@nybro.se"),
            ):  # fmt: skip
                contacts.create_contact(
                    ContactData(name, title, organisation, phone, email)
                )
            api_keys.create_key("Regionens webbplats för nyhetsbrev", admin.name)
            editor = audit.Actor("editor", admin.email, admin.id)
            for number in range(20):
                audit.record(
                    "setting.changed" if number % 2 else "identity.changed",
                    "setting",
                    None,
                    "IDENTITY",
                    {
                        "logo_height": [0, 120],
                        "brand_colour": ["#00507a", "#6b2c91"],
                        "postal_address": ["", "Regional samverkan, Box 100"],
                    },
                    actor=editor,
                )
                audit.record(
                    "contribution_link.created",
                    "contribution_link",
                    number + 1,
                    "Kalmar kommun",
                    {"contact_email": [None, "socialforvaltningen@kalmar.se"]},
                    actor=editor,
                )
            db.session.commit()
        yield url


@pytest.fixture
def phone(browser, site):
    """A page at phone width, logged in as the administrator (axe may be added)."""
    context = browser.new_context(
        locale="sv-SE", viewport={"width": PHONE, "height": 800}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{site}/editor/login")
    page.get_by_label("E-postadress").fill("ada.admin@example.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/editor/")
    yield page
    context.close()


def page_width(page) -> int:
    """How wide the page is, scrolled sideways as far as it goes."""
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize(
    "path", ["/editor/contacts", "/editor/api-keys", "/editor/themes"]
)
def test_a_table_with_a_hidden_column_name_does_not_widen_the_page(site, phone, path):
    phone.goto(site + path)
    assert page_width(phone) <= PHONE


def test_the_contacts_page_fits_a_phone_without_splitting_words(site, phone):
    phone.goto(f"{site}/editor/contacts")
    assert page_width(phone) <= PHONE
    assert phone.evaluate(SPLIT_WORDS, "table.list td, table.list th") == []


def test_the_audit_log_fits_a_phone_without_splitting_words(site, phone):
    phone.goto(f"{site}/editor/audit")
    assert page_width(phone) <= PHONE
    assert phone.evaluate(SPLIT_WORDS, "table.list td, table.list th") == []
    who = phone.locator("table.list tbody tr").first.locator("td").nth(1)
    assert "Redaktör" in who.inner_text()


def test_the_audit_log_names_objects_and_fields_in_swedish(site, phone):
    phone.goto(f"{site}/editor/audit?type=setting")
    entry = phone.locator("table.list tbody tr").first
    assert "Inställning" in entry.inner_text()
    assert "Organisationens identitet" in entry.inner_text()
    assert "IDENTITY" not in entry.inner_text()
    assert "Logotypens höjd" in entry.inner_text()
    assert "logo_height" not in entry.inner_text()
    choices = phone.locator("#type option").all_inner_texts()
    assert "Bidragslänk" in choices and "contribution_link" not in choices


def test_the_stacked_tables_pass_axe_at_phone_width(site, phone):
    found = {}
    for path in ("/editor/contacts", "/editor/audit"):
        phone.goto(site + path)
        phone.add_script_tag(path=str(AXE))
        found[path] = phone.evaluate(RUN_AXE)
    assert {path: v for path, v in found.items() if v} == {}
