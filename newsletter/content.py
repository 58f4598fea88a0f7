"""Editor-written Markdown rendered to safe HTML, for pages, email and feeds alike."""

from __future__ import annotations

import re
from functools import cache
from html import unescape
from html.parser import HTMLParser
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "a", "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote",
    "h3", "h4", "h5", "h6", "code", "pre", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto", "tel"}
HEADING = re.compile(r"<(/?)h([1-6])\b")
# Characters XML 1.0 cannot carry (a feed holding one is not XML at all); text pasted
# from word processors brings vertical tabs and form feeds as line breaks.
LINE_BREAK_CONTROLS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Text without characters XML cannot hold; pasted line breaks become newlines.

    Browsers send a text area's lines ended by CR LF: kept as they came, a save of
    unchanged text would differ from the same text stored with LF."""
    return NOT_XML.sub("", one_line_ending(text).translate(LINE_BREAK_CONTROLS))


def one_line_ending(text: str) -> str:
    """Text with its lines ended by LF alone (not CR LF, not CR)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
ADDRESS_START = re.compile(r"\b(www|https?)([.:])", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """Plain text (say, from another site's feed) as Markdown that renders as that
    same text: no links, emphasis or headings appear out of it."""
    escaped = MARKDOWN_INLINE.sub(r"\\\1", text)
    escaped = ORDERED_LIST_START.sub(r"\1\\\2", escaped)
    escaped = ADDRESS_START.sub(r"\1\\\2", escaped)
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


# Text pasted from word processors and emails: bullets typed as "•", "–", "-" or "*",
# numbered lines "1." or "1)", and no empty line before or after the list.
TYPED_LIST_LINE = re.compile(r"^( {0,3})([•–*+-]|\d{1,3}[.)])[ \t\u00a0]+(?=\S)")
TYPED_BULLETS = "•–"
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# A phone number in a link target may be written the way people write it, with
# spaces and dashes; CommonMark takes no spaces there, so they go before parsing.
TEL_TARGET = re.compile(r"\]\(\s*tel:(\+?[\d][\d \-]*\d)\s*\)", re.IGNORECASE)
TEL_HREF = re.compile(r"tel:\+?\d+")
PHONE_SEPARATORS = re.compile(r"[\s\-]|%20")
# Addresses typed in running text: "www.skolverket.se/…" or "https://…"; the
# punctuation that ends a sentence is not part of the address.
TYPED_ADDRESS = re.compile(r"(?<![\w@/.-])(?:https?://|www\.)[^\s<>]+", re.IGNORECASE)
ADDRESS_END = ".,;:!?'\")]"


def _is_typed_list_line(lines: list[str], index: int) -> bool:
    """Return whether a line is a list item; an en dash alone on its line is the
    Swedish mark of a quotation, so en dash items come at least two together."""
    found = TYPED_LIST_LINE.match(lines[index])
    if found is None:
        return False
    if found[2] != "–":
        return True
    return any(
        0 <= near < len(lines) and TYPED_LIST_LINE.match(lines[near]) is not None
        for near in (index - 1, index + 1)
    )


def _typed_lists(text: str) -> str:
    """Turn typed bullets into Markdown ones and set lists apart from the
    paragraphs around them, outside fenced code."""
    lines = text.split("\n")
    out: list[str] = []
    fence = ""
    previous = ""  # "", "list" or "text": what the line before was
    for index, line in enumerate(lines):
        fenced = FENCE.match(line)
        if fence or fenced:
            if not fence:
                fence = fenced[1] if fenced else ""
            elif fenced and fenced[1][0] == fence[0] and len(fenced[1]) >= len(fence):
                fence = ""
            out.append(line)
            previous = "text"
            continue
        if not line.strip():
            previous = ""
        elif _is_typed_list_line(lines, index):
            if previous == "text":
                out.append("")
            marker = TYPED_LIST_LINE.match(line)
            if marker and marker[2] in TYPED_BULLETS:
                line = line[: marker.start(2)] + "-" + line[marker.end(2) :]
            previous = "list"
        elif previous == "list" and not line[0].isspace():
            out.append("")  # pasted text has no lazy continuation lines
            previous = "text"
        elif previous != "list":
            previous = "text"
        out.append(line)
    return "\n".join(out)


def _phone_target(found: re.Match[str]) -> str:
    """Write a tel: link target without the spaces and dashes of a phone number."""
    return "](tel:" + PHONE_SEPARATORS.sub("", found[1]) + ")"


def _link_token(href: str, label: str) -> list[Token]:
    """Return the tokens of a link to href reading label."""
    opening = Token("link_open", "a", 1)
    opening.attrSet("href", href)
    text = Token("text", "", 0)
    text.content = label
    return [opening, text, Token("link_close", "a", -1)]


def _typed_address_tokens(content: str) -> list[Token] | None:
    """Split text at the addresses typed in it, or return None if there are none."""
    tokens: list[Token] = []
    start = 0
    for found in TYPED_ADDRESS.finditer(content):
        address = found[0].rstrip(ADDRESS_END)
        if "." not in address.partition("//")[2] + address.partition("www.")[2]:
            continue
        if start < found.start():
            tokens.append(Token("text", "", 0, content=content[start : found.start()]))
        tokens.extend(_link_token(with_scheme(address), address))
        start = found.start() + len(address)
    if not tokens:
        return None
    if start < len(content):
        tokens.append(Token("text", "", 0, content=content[start:]))
    return tokens


def with_scheme(href: str) -> str:
    """Add https:// to an address typed from www., and tidy a phone number; also
    a form filter, so a link field takes what the text field links."""
    if href[:4].lower() == "www.":
        return "https://" + href
    if href[:4].lower() == "tel:":
        return "tel:" + PHONE_SEPARATORS.sub("", href[4:])
    return href


def _typed_links(state: StateCore) -> None:
    """Link typed addresses and give www. link targets their https://."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
                token.attrSet("href", with_scheme(str(token.attrGet("href") or "")))
            elif token.type == "link_close":
                in_link -= 1
            elif token.type == "text" and not in_link:
                linked = _typed_address_tokens(token.content)
                if linked is not None:
                    children.extend(linked)
                    continue
            children.append(token)
        block.children = children


def _image_as_link(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """Render ![text](url) as a link: the service publishes no images."""
    token = tokens[idx]
    src = token.attrGet("src") or ""
    label = renderer.renderInline(token.children or [], options, env) or escape(src)
    return f'<a href="{escape(src)}">{label}</a>'


@cache
def _markdown() -> MarkdownIt:
    """Return a CommonMark renderer that escapes raw HTML instead of passing it on."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    md.add_render_rule("image", _image_as_link)
    # Before text_join: a backslash-escaped character (text_special) keeps
    # escape_markdown's text from reading as an address.
    md.core.ruler.before("text_join", "typed_links", _typed_links)
    return md


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """Drop relative and protocol-relative hrefs: they break in email and feeds."""
    if tag != "a" or attribute != "href":
        return value
    return value if is_allowed_url(value) or TEL_HREF.fullmatch(value) else None


def _demote_headings(html: str) -> str:
    """Put # and ## below an item's own title (h3) instead of dropping them."""
    return HEADING.sub(lambda m: f"<{m[1]}h{min(6, int(m[2]) + 2)}", html)


def render_markdown(text: str) -> Markup:
    """Render Markdown and keep only allowlisted tags, attributes and URL schemes."""
    source = _typed_lists(TEL_TARGET.sub(_phone_target, text or ""))
    html = _demote_headings(_markdown().render(source))
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        attribute_filter=_absolute_links_only,
        link_rel="noopener noreferrer",
    )
    return Markup(BARE_LINK.sub(_mark_bare_link, clean))


# A sanitised link (nh3 writes href first and nothing but rel after it).
BARE_LINK = re.compile(r'<a href="([^"]*)"([^>]*)>([^<]*)</a>')


def shows_its_address(text: str, href: str) -> bool:
    """Whether a link's text is its own address: a printed page writes each web
    address after its link, and such a link's address only once."""

    def bare(value: str) -> str:
        return value.strip().removeprefix("mailto:").removeprefix("tel:").rstrip("/")

    return bare(text) == bare(href)


def _mark_bare_link(match: re.Match[str]) -> str:
    """Mark a link showing its own address with class="bare-url"."""
    href, rest, text = match.groups()
    if not shows_its_address(unescape(text), unescape(href)):
        return match.group(0)
    return f'<a href="{href}" class="bare-url"{rest}>{text}</a>'


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
            address = self.href.removeprefix("mailto:").removeprefix("tel:")
            if self.href not in (label, with_scheme(label)) and label != address:
                self.text += f" ({address})"
            self.href = None
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._break(blank=not self.lists)
        elif tag in self.BLOCKS:
            self._break(blank=not self.lists)

    def handle_data(self, data: str) -> None:
        if not self.text or self.text.endswith("\n"):
            data = data.lstrip("\n")  # the line breaks between tags
            if not data.strip():
                return
        if self.href is not None:
            self.link_text += data
        self.text += data


def markdown_as_text(text: str | None) -> str:
    """Editor Markdown as plain text, for the text part of an email."""
    writer = _TextWriter()
    writer.feed(str(render_markdown(text or "")))
    writer.close()
    return writer.text.strip()
