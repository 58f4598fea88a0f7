"""The issue email: its hidden preview line, Swedish articles for English readers,
and its size shown on the preview page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from newsletter.mail.emails import preview_email
from tests.factories import make_issue, make_item

VOID = {"meta", "br", "img", "hr", "input", "link"}


def luminance(colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels
    )
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


class Texts(HTMLParser):
    """Each piece of body text with its element's style and nearest lang."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.texts: list[tuple[str, str, str]] = []  # text, style, lang
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if tag not in VOID:
            self.stack.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if self.in_body and data.strip() and self.stack:
            lang = next((a["lang"] for _, a in reversed(self.stack) if "lang" in a), "")
            self.texts.append((data.strip(), self.stack[-1][1].get("style", ""), lang))


def texts(html: str) -> list[tuple[str, str, str]]:
    parser = Texts()
    parser.feed(html)
    return parser.texts


def test_the_preview_line_is_hidden_without_low_contrast_text(sqlite_app):
    with sqlite_app.app_context():
        issue = make_issue(preheader="Konferens och ny vägledning")
        make_item(issue, "aldre", "Ensamhet bland äldre")
        html = preview_email(issue, "sv").html
    first, style, _ = texts(html)[0]
    assert first == "Konferens och ny vägledning"  # still the first text of the body
    for rule in ("display:none", "max-height:0", "overflow:hidden", "mso-hide:all"):
        assert rule in style
    background = re.search(r"<body[^>]*background-color:\s*(#[0-9a-f]{6})", html)[1]
    colour = re.search(r"(?<![-\w])color:\s*(#[0-9a-f]{6})", style)[1]
    assert contrast(colour, background) >= 4.5, (colour, background)


def test_an_english_reader_gets_the_articles_marked_swedish(sqlite_app):
    with sqlite_app.app_context():
        issue = make_issue(intro="Välkommen till vårens nummer.")
        make_item(
            issue,
            "aldre",
            "Ensamhet bland äldre",
            body="En ny rapport om ensamhet.",
            links=[("Rapporten", "https://example.se/rapport")],
        )
        english = texts(preview_email(issue, "en").html)
        swedish = preview_email(issue, "sv").html
    lang = {text: lang for text, _, lang in english}
    for content in (
        "Nyhetsbrev februari 2026",
        "Välkommen till vårens nummer.",
        "Äldre",
        "Ensamhet bland äldre",
        "En ny rapport om ensamhet.",
        "Rapporten",
        "Regional samverkan",  # the organisation's identity in the footer
    ):
        assert lang[content] == "sv", content
    # The reader's own language stays on what we wrote for them.
    assert lang["Unsubscribe"] == "en"
    assert lang["Read in the browser"] == "en"
    # A Swedish reader's email says sv on the whole message only (html, article).
    assert swedish.count('lang="sv"') == 2


def test_the_email_preview_shows_the_size_and_warns_near_gmails_clip(app, editor):
    with app.app_context():
        small = make_issue().id
        big = make_issue("Ett mycket långt nummer")
        make_item(big, "aldre", "Lång text", body="Ett långt stycke text. " * 4200)
        big = big.id
    page = editor.get(f"/editor/issues/{small}/email").get_data(as_text=True)
    size = re.search(r"Storlek:</strong> (\d+) kB HTML", page)
    assert size and 5 <= int(size[1]) < 90
    assert "Gmail klipper" not in page
    page = editor.get(f"/editor/issues/{big}/email").get_data(as_text=True)
    size = re.search(r"Storlek:</strong> (\d+) kB HTML", page)
    assert size and int(size[1]) >= 90
    warning = re.search(
        r'<p class="notice notice-warning" role="status">([^<]*)</p>', page
    )
    assert warning and "Gmail klipper av meddelanden" in warning[1]
    assert f"E-postmeddelandet är {size[1]} kB" in warning[1]
    assert "avsluta" in warning[1]
