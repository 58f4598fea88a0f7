"""Writing an item in a real browser: text pasted from Word, Google Docs and
LibreOffice keeps its structure through the preview, the email and the archive;
the toolbar works from the keyboard; the live preview follows the typing."""

from __future__ import annotations

import mailbox
import re
from email import policy
from email.parser import BytesParser

import pytest

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import Issue, Role
from newsletter.services.contributor_links import token_of
from tests.browser import live_site
from tests.factories import make_editor, make_issue, make_item, make_subscriber
from tests.inbox_factories import make_link
from tests.test_accessibility import AXE, RUN_AXE
from tests.test_browser_review import log_in

pytestmark = pytest.mark.browser


def word_list_paragraph(
    position: str, text: str, marker: str = "·", level: int = 1
) -> str:
    """A Word list paragraph: a bullet or number in a span Word ignores, then
    the text."""
    return (
        f"<p class=MsoListParagraphCxSp{position}\n"
        f"style='text-indent:-18.0pt;mso-list:l0 level{level} lfo1'>"
        "<![if !supportLists]><span style='font-family:Symbol'>"
        f"<span style='mso-list:Ignore'>{marker}<span\n"
        f"style='font:7.0pt \"Times New Roman\"'>{'&nbsp;' * 6}\n"
        f"</span></span></span><![endif]>{text}<o:p></o:p></p>"
    )


LIST = "\n".join(
    word_list_paragraph(position, text)
    for position, text in (
        ("First", "F&ouml;rsta punkten"),
        ("Middle", "Andra punkten"),
        ("Last", "Tredje punkten"),
    )
)
# What Word puts on the clipboard (trimmed): MsoNormal paragraphs, an empty one,
# a bulleted list as mso-list paragraphs with the bullet in an Ignore span, <o:p>.
WORD = f"""<html xmlns:o="urn:schemas-microsoft-com:office:office"
xmlns:w="urn:schemas-microsoft-com:office:word"><head><meta charset="utf-8">
<style><!-- p.MsoNormal {{margin:0cm; font-size:11.0pt;}} --></style></head>
<body lang=SV style='tab-interval:65.2pt'><!--StartFragment-->
<p class=MsoNormal>Regionen och kommunerna startar ett <b>gemensamt</b>
arbete f&ouml;r barn och unga.<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>L&auml;s mer p&aring; <a
href="https://region.example.se/samverkan">regionens webbplats</a>.<o:p></o:p></p>
{LIST}
<p class=MsoNormal>Sista stycket med <i>kursiv</i> text.<o:p></o:p></p>
<!--EndFragment--></body></html>"""
WORD_MARKDOWN = (
    "Regionen och kommunerna startar ett **gemensamt** arbete för barn och unga.\n\n"
    "Läs mer på [regionens webbplats](https://region.example.se/samverkan).\n\n"
    "- Första punkten\n- Andra punkten\n- Tredje punkten\n\n"
    "Sista stycket med *kursiv* text."
)
# A numbered Word list with a bulleted list under its second item.
WORD_NUMBERED = (
    "<p class=MsoNormal>Så anmäler du dig:<o:p></o:p></p>\n"
    + word_list_paragraph("First", "Fyll i formuläret", "1.")
    + word_list_paragraph("Middle", "Välj dag", "2.")
    + word_list_paragraph("Middle", "tisdag", "o", level=2)
    + word_list_paragraph("Middle", "torsdag", "o", level=2)
    + word_list_paragraph("Last", "Skicka", "3.")
)
WORD_NUMBERED_MARKDOWN = (
    "Så anmäler du dig:\n\n"
    "1. Fyll i formuläret\n2. Välj dag\n   - tisdag\n   - torsdag\n3. Skicka"
)

# Google Docs: everything inside <b style="font-weight:normal" id="docs-internal-
# guid-…">, bold and italic as span styles, lists of <li><p>, <br> between blocks.
SPAN = "font-size:11pt;font-family:Arial;color:#000000;background-color:transparent;"
DOCS = (
    '<meta charset="utf-8"><b style="font-weight:normal;" '
    'id="docs-internal-guid-1a2b3c4d-7fff-0e1d-6a5b-9c8d7e6f5a4b">'
    '<p dir="ltr" style="line-height:1.38;margin-top:0pt;margin-bottom:0pt;">'
    f'<span style="{SPAN}font-weight:400;font-style:normal;">Ett </span>'
    f'<span style="{SPAN}font-weight:700;font-style:normal;">viktigt</span>'
    f'<span style="{SPAN}font-weight:400;font-style:italic;"> besked</span>'
    f'<span style="{SPAN}font-weight:400;font-style:normal;">.</span></p><br>'
    '<ul style="margin-top:0;margin-bottom:0;padding-inline-start:48px;">'
    '<li dir="ltr" style="list-style-type:disc;" aria-level="1">'
    '<p dir="ltr" role="presentation">'
    f'<span style="{SPAN}font-weight:400;">Punkt ett</span></p></li>'
    '<li dir="ltr" style="list-style-type:disc;" aria-level="1">'
    '<p dir="ltr" role="presentation">'
    f'<span style="{SPAN}font-weight:400;">Punkt två</span></p></li></ul><br>'
    '<ol style="margin-top:0;margin-bottom:0;">'
    '<li dir="ltr" aria-level="1"><p dir="ltr" role="presentation">'
    f'<span style="{SPAN}">Steg ett</span></p></li>'
    '<li dir="ltr" aria-level="1"><p dir="ltr" role="presentation">'
    f'<span style="{SPAN}">Steg två</span></p></li></ol><br>'
    '<p dir="ltr"><a href="https://www.skolverket.se/" style="text-decoration:none;">'
    '<span style="font-size:11pt;color:#1155cc;text-decoration:underline;">'
    "Skolverket</span></a></p></b>"
    '<br class="Apple-interchange-newline">'
)
DOCS_MARKDOWN = (
    "Ett **viktigt** *besked*.\n\n"
    "- Punkt ett\n- Punkt två\n\n"
    "1. Steg ett\n2. Steg två\n\n"
    "[Skolverket](https://www.skolverket.se/)"
)

# LibreOffice Writer: a full HTML document with a generator tag, <font> wrappers,
# list items holding paragraphs, an empty paragraph holding a <br>.
LIBREOFFICE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN">
<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"/>
<title></title><meta name="generator" content="LibreOffice 7.4.7.2 (Linux)"/>
<style type="text/css">p { line-height: 115%; margin-bottom: 0.25cm }</style>
</head><body lang="sv-SE" link="#000080" vlink="#800000" dir="ltr">
<p style="line-height: 100%; margin-bottom: 0cm"><font face="Liberation Serif">
Inbjudan till <b>nätverksträff</b> den 12 mars.</font></p>
<p style="line-height: 100%; margin-bottom: 0cm"><br/></p>
<ul><li><p style="line-height: 100%; margin-bottom: 0cm">Kaffe från 9.00</p></li>
<li><p style="line-height: 100%; margin-bottom: 0cm">Program 9.30–12.00</p></li></ul>
<p style="line-height: 100%; margin-bottom: 0cm"><i>Välkomna!</i> Anmälan till
<a href="mailto:anmalan@kalmar.example.se">anmalan@kalmar.example.se</a></p>
</body></html>"""
LIBREOFFICE_MARKDOWN = (
    "Inbjudan till **nätverksträff** den 12 mars.\n\n"
    "- Kaffe från 9.00\n- Program 9.30–12.00\n\n"
    "*Välkomna!* Anmälan till "
    "[anmalan@kalmar.example.se](mailto:anmalan@kalmar.example.se)"
)

# A paste event whose clipboard holds HTML (and the plain text a browser adds).
PASTE = """([selector, html, text]) => {
    const field = document.querySelector(selector);
    field.focus();
    const data = new DataTransfer();
    if (html !== null) data.setData('text/html', html);
    data.setData('text/plain', text);
    const event = new ClipboardEvent('paste', {
        clipboardData: data, bubbles: true, cancelable: true
    });
    field.dispatchEvent(event);
    return event.defaultPrevented;
}"""

# The structure of the pasted text as rendered, with the attributes an email's
# inlined CSS adds dropped (href kept).
STRUCTURE = re.compile(
    r"<p>Regionen och kommunerna startar ett <strong>gemensamt</strong> arbete "
    r"för barn och unga.</p>\s*"
    r'<p>Läs mer på <a href="https://region.example.se/samverkan">'
    r"regionens webbplats</a>.</p>\s*"
    r"<ul>\s*<li>Första punkten</li>\s*<li>Andra punkten</li>\s*"
    r"<li>Tredje punkten</li>\s*</ul>\s*"
    r"<p>Sista stycket med <em>kursiv</em> text.</p>"
)


TAG = re.compile(r"<(/?)(p|ul|li|strong|em|a)\b([^>]*)>")
HREF = re.compile(r'\shref="[^"]*"')


def structure_in(html: str) -> bool:
    """Tell whether the pasted text's structure is in a page or an email."""

    def bare(tag: re.Match[str]) -> str:
        href = HREF.search(tag[3]) if tag[2] == "a" else None
        return f"<{tag[1]}{tag[2]}{href[0] if href else ''}>"

    return STRUCTURE.search(TAG.sub(bare, html)) is not None


@pytest.fixture
def site(tmp_path):
    """The app on a SQLite file, its live URL, and the folder of caught mail."""
    with live_site(tmp_path) as (app, url):
        with app.app_context():
            make_editor(email="eva@example.se", name="Eva Editor", role=Role.PUBLISHER)
            make_subscriber("lasare@example.se", themes=("psykisk-halsa",))
            issue = make_issue("Nyhetsbrev maj", slug="nyhetsbrev-maj")
            item = make_item(issue, title="Samverkan", body="")
            ids = {"issue": issue.id, "item": item.id, "token": token_of(make_link())}
        yield app, url, ids, tmp_path / "maildir"


@pytest.fixture
def writer(browser, site):
    """A publisher's page, logged in, on the item's form."""
    _app, url, ids, _mail = site
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, url, "eva@example.se")
    page.goto(f"{url}/editor/items/{ids['item']}")
    yield page
    context.close()


def html_part(folder, to: str) -> str:
    """The HTML part of the caught message to an address."""
    for message in mailbox.Maildir(folder, create=False):
        parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
        if to in parsed["To"]:
            return parsed.get_body(preferencelist=("html",)).get_content()
    raise AssertionError(f"no message to {to}")


def test_word_text_pasted_keeps_its_structure_to_the_email_and_archive(site, writer):
    from playwright.sync_api import expect

    app, url, ids, maildir = site
    page = writer
    assert page.evaluate(PASTE, ["#body", WORD, "plain words only"]) is True
    expect(page.locator("#body")).to_have_value(WORD_MARKDOWN)
    # The live preview shows it as readers will, before it is saved.
    preview = page.locator("#body-preview")
    expect(preview.locator("ul > li")).to_have_count(3)
    assert structure_in(preview.inner_html()), preview.inner_html()
    page.get_by_role("button", name="Spara artikeln").click()
    expect(page.get_by_text("Artikeln är sparad.")).to_be_visible()

    # The editor's preview of the issue and of its email.
    page.goto(f"{url}/editor/issues/{ids['issue']}/preview")
    assert structure_in(page.content()), "issue preview"
    page.goto(f"{url}/editor/issues/{ids['issue']}/email.html")
    assert structure_in(page.content()), "email preview"

    # Sent, the email and the archive page show the same structure.
    result = app.test_cli_runner().invoke(args=["issues", "send", "nyhetsbrev-maj"])
    assert result.exit_code == 0, result.output
    Worker(app).run(once=True)
    assert structure_in(html_part(maildir, "lasare@example.se")), "sent email"
    page.goto(f"{url}/archive/nyhetsbrev-maj")
    assert structure_in(page.content()), "archive"
    with app.app_context():
        assert db.session.get(Issue, ids["issue"]).status == "sent"


@pytest.mark.parametrize(
    ("fragment", "markdown"),
    [
        (DOCS, DOCS_MARKDOWN),
        (LIBREOFFICE, LIBREOFFICE_MARKDOWN),
        (WORD_NUMBERED, WORD_NUMBERED_MARKDOWN),
    ],
    ids=["google-docs", "libreoffice", "word-numbered-and-nested"],
)
def test_pasted_word_processor_html_becomes_clean_markdown(writer, fragment, markdown):
    from playwright.sync_api import expect

    writer.locator("#body").fill("")
    assert writer.evaluate(PASTE, ["#body", fragment, "ignored"]) is True
    expect(writer.locator("#body")).to_have_value(markdown)


def test_plain_text_is_pasted_as_it_is(writer):
    pasted = writer.evaluate(PASTE, ["#body", None, "- **inte** ändrad"])
    assert pasted is False  # the browser pastes it itself


def test_the_toolbar_and_shortcuts_format_the_text_from_the_keyboard(writer):
    from playwright.sync_api import expect

    page = writer
    text = page.locator("#body")
    toolbar = page.get_by_role("toolbar", name="Formatering av text")
    expect(toolbar).to_be_visible()
    text.fill("Viktigt")
    text.focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Control+B")
    expect(text).to_have_value("**Viktigt**")
    page.keyboard.press("Control+B")  # again: the marks go
    expect(text).to_have_value("Viktigt")
    page.keyboard.press("Control+I")
    expect(text).to_have_value("*Viktigt*")

    # Shift+Tab reaches the toolbar's one tab stop; arrows move inside it.
    text.fill("Första\nAndra")
    text.focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Shift+Tab")
    expect(toolbar.get_by_role("button", name="Fet")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(toolbar.get_by_role("button", name="Punktlista")).to_be_focused()
    page.keyboard.press("Enter")
    expect(text).to_have_value("- Första\n- Andra")
    expect(text).to_be_focused()
    page.keyboard.press("Shift+Tab")  # the toolbar remembers the last button
    expect(toolbar.get_by_role("button", name="Punktlista")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(text).to_have_value("1. Första\n2. Andra")

    # Ctrl+K asks for the address and links the selected words.
    text.fill("Läs på Skolverket.")
    text.evaluate("field => field.setSelectionRange(7, 17)")
    page.once("dialog", lambda dialog: dialog.accept("www.skolverket.se"))
    page.keyboard.press("Control+K")
    expect(text).to_have_value("Läs på [Skolverket](https://www.skolverket.se).")


def test_the_live_preview_follows_the_typing(writer):
    from playwright.sync_api import expect

    page = writer
    preview = page.locator("#body-preview")
    expect(preview).to_have_attribute("aria-live", "polite")
    page.locator("#body").fill("")
    page.locator("#body").press_sequentially("Hej **alla** på www.kalmar.se")
    expect(preview.locator("strong")).to_have_text("alla")
    expect(preview.get_by_role("link", name="www.kalmar.se")).to_have_attribute(
        "href", "https://www.kalmar.se"
    )


def test_without_javascript_the_plain_text_field_works(browser, site):
    from playwright.sync_api import expect

    _app, url, ids, _mail = site
    context = browser.new_context(locale="sv-SE", java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, url, "eva@example.se")
        page.goto(f"{url}/editor/items/{ids['item']}")
        expect(page.get_by_role("toolbar")).to_have_count(0)
        expect(page.locator(".text-preview")).to_be_hidden()
        page.get_by_label("Text", exact=True).fill("- ett\n- två")
        page.get_by_role("button", name="Spara artikeln").click()
        expect(page.get_by_text("Artikeln är sparad.")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_the_writing_aids_pass_axe(browser, site, width):
    _app, url, ids, _mail = site
    context = browser.new_context(
        locale="sv-SE", viewport={"width": width, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, url, "eva@example.se")
        page.goto(f"{url}/editor/items/{ids['item']}")
        page.locator("#body").fill("Text med **fetstil** och\n\n- en lista")
        page.locator("#body-preview strong").wait_for()
        box = page.locator("#body").bounding_box()
        preview = page.locator("#body-preview").bounding_box()
        assert box and preview
        if width == 375:  # below the field on a phone, beside it on a desktop
            assert preview["y"] > box["y"] + box["height"]
        else:
            assert preview["x"] > box["x"] + box["width"]
        page.add_script_tag(path=str(AXE))
        assert page.evaluate(RUN_AXE) == []
        page.goto(f"{url}/editor/issues/{ids['issue']}")
        page.add_script_tag(path=str(AXE))
        assert page.evaluate(RUN_AXE) == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_a_partner_pastes_and_formats_on_the_public_form(browser, site, width):
    """The partner's form has the toolbar and the paste conversion; its preview
    is the editor's, after the proposal is sent (no public rendering endpoint)."""
    from playwright.sync_api import expect

    _app, url, ids, _mail = site
    context = browser.new_context(
        locale="sv-SE", viewport={"width": width, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{url}/contribute/{ids['token']}")
        expect(page.get_by_role("toolbar", name="Formatering av text")).to_be_visible()
        expect(page.locator(".text-preview")).to_have_count(0)
        assert page.evaluate(PASTE, ["#body", DOCS, "ignored"]) is True
        expect(page.locator("#body")).to_have_value(DOCS_MARKDOWN)
        page.add_script_tag(path=str(AXE))
        assert page.evaluate(RUN_AXE) == []
    finally:
        context.close()
