"""Editor-written Markdown rendered to safe HTML, for pages, email and feeds alike."""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "a", "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote",
    "h3", "h4", "code", "pre", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


@cache
def _markdown() -> MarkdownIt:
    """Return a CommonMark renderer that escapes raw HTML instead of passing it on."""
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def render_markdown(text: str) -> Markup:
    """Render Markdown and keep only allowlisted tags, attributes and URL schemes."""
    html = _markdown().render(text or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )
    return Markup(clean)


def is_allowed_url(url: str) -> bool:
    """Return whether a resource URL uses a scheme we publish (http, https, mailto)."""
    scheme, sep, rest = url.partition(":")
    if not sep or not rest:
        return False
    scheme = scheme.lower()
    if scheme == "mailto":
        return "@" in rest
    return scheme in ("http", "https") and rest.startswith("//") and len(rest) > 2
