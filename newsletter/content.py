"""Editor-written Markdown rendered to safe HTML, for pages, email and feeds alike."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "a", "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote",
    "h3", "h4", "h5", "h6", "code", "pre", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
HEADING = re.compile(r"<(/?)h([1-6])\b")
# Characters XML 1.0 cannot carry (a feed holding one is not XML at all); text pasted
# from word processors brings vertical tabs and form feeds as line breaks.
LINE_BREAK_CONTROLS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Text without characters XML cannot hold; pasted line breaks become newlines."""
    return NOT_XML.sub("", text.translate(LINE_BREAK_CONTROLS))


# What an HTML parser reads as the start of markup: an element, an end tag, a comment
# or declaration, a processing instruction. Feed readers and email programs may take
# titles and names for HTML, and a tag left open runs on into the page around it, so
# plain-text fields hold none, closed or not ("Barn <12 år" stays).
MARKUP = re.compile(r"<[A-Za-z/!?][^<>]*>?")  # a tag, closed or not
WHOLE_TAG = re.compile(r"<[A-Za-z/!?][^<>]*>")
MARKUP_START = re.compile(r"<+(?=[A-Za-z/!?])")
MAX_TITLE = 200


def markup_in(text: str) -> str | None:
    """Return the first piece of markup in a plain-text field (shortened), or None."""
    found = MARKUP.search(text)
    if found is None:
        return None
    piece = found.group()
    return piece if len(piece) <= 40 else piece[:39] + "…"


def title_from(text: str) -> str:
    """A title made from text of elsewhere (another site's feed): one line, no
    markup (whole tags go, an unclosed one loses its <), at most MAX_TITLE
    characters."""
    plain = MARKUP_START.sub("", WHOLE_TAG.sub("", text))
    return " ".join(plain.split())[:MAX_TITLE]


# Characters that mean something to Markdown anywhere in a line, and line starts
# that make a list, a quote, a heading or a rule.
MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>#!~|])")
MARKDOWN_LINE_START = re.compile(r"^(\s*)([-+=>])", re.MULTILINE)
ORDERED_LIST_START = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """Plain text (say, from another site's feed) as Markdown that renders as that
    same text: no links, emphasis or headings appear out of it."""
    escaped = MARKDOWN_INLINE.sub(r"\\\1", text)
    escaped = ORDERED_LIST_START.sub(r"\1\\\2", escaped)
    return MARKDOWN_LINE_START.sub(r"\1\\\2", escaped)


def text_input(value: str | None) -> str:
    """A form filter: trimmed, XML-safe text; a missing field is empty."""
    return clean_text(value).strip() if isinstance(value, str) else ""


def is_allowed_url(url: str) -> bool:
    """Return whether a URL is absolute http(s) or mailto, the only links we publish."""
    scheme, sep, rest = url.partition(":")
    if not sep or not rest:
        return False
    scheme = scheme.lower()
    if scheme == "mailto":
        return "@" in rest
    return scheme in ("http", "https") and rest.startswith("//") and len(rest) > 2


def _image_as_link(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """Render ![text](url) as a link: the service publishes no images."""
    token = tokens[idx]
    src = token.attrGet("src") or ""
    label = renderer.renderInline(token.children or [], options, env) or escape(src)
    return f'<a href="{escape(src)}">{label}</a>'


@cache
def _markdown() -> MarkdownIt:
    """Return a CommonMark renderer that escapes raw HTML instead of passing it on."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False})
    md.add_render_rule("image", _image_as_link)
    return md


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """Drop relative and protocol-relative hrefs: they break in email and feeds."""
    if tag == "a" and attribute == "href" and not is_allowed_url(value):
        return None
    return value


def _demote_headings(html: str) -> str:
    """Put # and ## below an item's own title (h3) instead of dropping them."""
    return HEADING.sub(lambda m: f"<{m[1]}h{min(6, int(m[2]) + 2)}", html)


def render_markdown(text: str) -> Markup:
    """Render Markdown and keep only allowlisted tags, attributes and URL schemes."""
    html = _demote_headings(_markdown().render(text or ""))
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        attribute_filter=_absolute_links_only,
        link_rel="noopener noreferrer",
    )
    return Markup(clean)


class _TextWriter(HTMLParser):
    """Sanitised HTML (the tags above) as readable plain text for an email's text
    part: paragraphs, "- " and "1. " lists, and links as "text (address)"."""

    BLOCKS = {"p", "ul", "ol", "blockquote", "pre", "h3", "h4", "h5", "h6", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.lists: list[int] = []  # item counters; -1 for a bullet list
        self.href: str | None = None
        self.link_text = ""

    def _break(self, blank: bool = True) -> None:
        text = self.text.rstrip(" ").rstrip("\n")
        self.text = text + ("\n\n" if blank else "\n") if text else ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self._break(blank=not self.lists)
        if tag == "ul":
            self.lists.append(-1)
        elif tag == "ol":
            self.lists.append(0)
        elif tag == "li" and self.lists:
            if not self.text.endswith("\n"):
                self._break(blank=False)
            if self.lists[-1] < 0:
                marker = "- "
            else:
                self.lists[-1] += 1
                marker = f"{self.lists[-1]}. "
            self.text += "  " * (len(self.lists) - 1) + marker
        elif tag == "br":
            self.text += "\n"
        elif tag == "hr":
            self.text += "----"
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href is not None:
            label = self.link_text.strip()
            address = self.href.removeprefix("mailto:")
            if label not in (address, self.href):
                self.text += f" ({address})"
            self.href = None
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._break(blank=not self.lists)
        elif tag in self.BLOCKS:
            self._break(blank=not self.lists)

    def handle_data(self, data: str) -> None:
        if not data.strip() and (not self.text or self.text.endswith("\n")):
            return  # the line breaks between block tags
        if self.href is not None:
            self.link_text += data
        self.text += data


def markdown_as_text(text: str | None) -> str:
    """Editor Markdown as plain text, for the text part of an email."""
    writer = _TextWriter()
    writer.feed(str(render_markdown(text or "")))
    writer.close()
    return writer.text.strip()
