"""Item text as editors type and paste it, the same in email, archive and feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import feedparser
import pytest

from newsletter.content import escape_markdown, markdown_as_text, render_markdown
from newsletter.extensions import db
from tests.factories import make_issue, make_item, make_subscriber
from tests.test_delivery import send_issue

BASE = "https://nyhetsbrev.example.se"

# Pasted from an email: no empty lines around the lists.
PASTED = (
    "Linjen har öppet dygnet runt.\n"
    "Du kan vara anonym.\n"
    "\n"
    "Så här går det till:\n"
    "• Du ringer\n"
    "• Vi lyssnar\n"
    "• Vi hjälper dig vidare\n"
    "1. Boka en tid\n"
    "2. Kom till mottagningen\n"
    "Läs mer på www.skolverket.se/stod. [Ring](tel:0480-123 45) **dygnet runt**."
)


def html_shape(html: str) -> str:
    """The HTML without line breaks, link rel and the styles email inlines."""
    html = re.sub(r'\s(?:rel|style)="[^"]*"|\r?\n', "", html)
    return html.replace("<br />", "<br>")


def assert_pasted_text_as_html(html: str) -> None:
    """Check the HTML of PASTED, wherever it was published."""
    shape = html_shape(html)
    assert "<p>Linjen har öppet dygnet runt.<br>Du kan vara anonym.</p>" in shape
    assert (
        "<p>Så här går det till:</p><ul><li>Du ringer</li><li>Vi lyssnar</li>"
        "<li>Vi hjälper dig vidare</li></ul>"
        "<ol><li>Boka en tid</li><li>Kom till mottagningen</li></ol>"
    ) in shape
    assert (
        '<p>Läs mer på <a href="https://www.skolverket.se/stod">'
        'www.skolverket.se/stod</a>. <a href="tel:048012345">Ring</a> '
        "<strong>dygnet runt</strong>.</p>"
    ) in shape


def assert_pasted_text_as_plain_text(text: str) -> None:
    """Check the text part of an email of PASTED."""
    assert (
        "Linjen har öppet dygnet runt.\nDu kan vara anonym.\n\n"
        "Så här går det till:\n\n"
        "- Du ringer\n- Vi lyssnar\n- Vi hjälper dig vidare\n\n"
        "1. Boka en tid\n2. Kom till mottagningen\n\n"
        "Läs mer på www.skolverket.se/stod. Ring (048012345) dygnet runt."
    ) in text.replace("\r\n", "\n")


def test_pasted_line_breaks_bullets_numbers_and_links_render_as_typed():
    assert_pasted_text_as_html(str(render_markdown(PASTED)))


def test_the_text_part_keeps_line_breaks_and_list_bullets():
    assert_pasted_text_as_plain_text(markdown_as_text(PASTED))


def test_the_email_reads_like_the_pasted_text_in_both_parts(mail_app, smtp_server):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "psykisk-halsa", "Stödlinjen", body=PASTED)
        make_subscriber()
        issue_id = issue.id
    send_issue(mail_app, issue_id)
    (message,) = smtp_server.sink.messages()
    assert_pasted_text_as_html(message.get_body(("html",)).get_content())
    assert_pasted_text_as_plain_text(message.get_body(("plain",)).get_content())


def test_the_archive_and_the_feeds_show_the_pasted_text_as_typed(make_app):
    app = make_app(BASE_URL=BASE)
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars 2026")
        make_item(issue, "psykisk-halsa", "Stödlinjen", body=PASTED)
        issue.status = "sent"
        issue.published_at = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
        db.session.commit()
    client = app.test_client()
    assert_pasted_text_as_html(
        client.get("/archive/nyhetsbrev-mars-2026").get_data(as_text=True)
    )
    assert_pasted_text_as_html(
        client.get("/themes/psykisk-halsa").get_data(as_text=True)
    )
    for url in ("/feed.xml", "/feed.atom", "/themes/psykisk-halsa/feed.xml"):
        # As sent: feedparser's own sanitiser would drop tel: for its readers.
        feed = feedparser.parse(client.get(url).data, sanitize_html=False)
        assert not feed.bozo, feed.bozo_exception
        assert_pasted_text_as_html(feed.entries[0].content[0].value)


@pytest.mark.parametrize(
    "text",
    [
        "[Klicka](javascript:alert(1))",
        "[Klicka](JaVaScRiPt:alert(1))",
        "<javascript:alert(1)>",
        "[Klicka](data:text/html;base64,PHNjcmlwdD4=)",
        "[Klicka](vbscript:msgbox)",
        "[Ring](tel:alert(1))",
        "[Ring](tel:javascript:alert(1))",
        "[Klicka](/relativ)",
    ],
)
def test_only_web_mail_and_phone_links_get_an_address(text):
    html = str(render_markdown(text))
    assert "href" not in html, html


def test_mailto_and_phone_numbers_with_a_country_code_stay_links():
    html = str(render_markdown("[Skriv](mailto:a@example.se) [Ring](tel:+46 8-123 45)"))
    assert 'href="mailto:a@example.se"' in html
    assert 'href="tel:+46812345"' in html


def test_markdown_written_the_markdown_way_keeps_working():
    html = html_shape(
        str(
            render_markdown(
                "Inledning *viktig* och [länk](https://example.se).\n\n"
                "- ett\n- två\n\n* tre\n\n1) först\n2) sedan\n\n"
                "- punkt\n  fortsätter\n  - under"
            )
        )
    )
    assert '<em>viktig</em> och <a href="https://example.se">länk</a>' in html
    assert "<ul><li>ett</li><li>två</li></ul><ul><li>tre</li></ul>" in html
    assert "<ol><li>först</li><li>sedan</li></ol>" in html
    assert "<li>punkt<br>fortsätter<ul><li>under</li></ul></li>" in html


def test_a_line_after_a_pasted_list_is_a_paragraph_of_its_own():
    html = html_shape(str(render_markdown("• ett\n• två\nVälkommen!")))
    assert html == "<ul><li>ett</li><li>två</li></ul><p>Välkommen!</p>"


def test_a_quotation_dash_alone_stays_a_paragraph_and_two_make_a_list():
    quote = html_shape(str(render_markdown("Hon säger:\n\n– Vi är glada.")))
    assert quote == "<p>Hon säger:</p><p>– Vi är glada.</p>"
    listed = html_shape(str(render_markdown("Vi erbjuder:\n– samtal\n– stöd")))
    assert listed == "<p>Vi erbjuder:</p><ul><li>samtal</li><li>stöd</li></ul>"


def test_code_and_text_from_other_sites_are_not_turned_into_links_or_lists():
    code = str(render_markdown("`www.example.se`\n\n```\n• www.example.se\n```"))
    assert "href" not in code and "<li>" not in code
    imported = escape_markdown("Se [här](https://evil.example/) och www.evil.example")
    html = str(render_markdown(imported))
    assert "href" not in html
    assert "Se [här](https://evil.example/) och www.evil.example" in html
