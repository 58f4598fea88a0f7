"""Render a named email template set: subject.txt, body.txt and body.mjml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import css_inline
from flask import render_template
from flask_babel import force_locale
from mjml import mjml2html

from newsletter.config import settings


@dataclass(frozen=True)
class RenderedEmail:
    """The three parts of an email before it becomes a message."""

    subject: str
    text: str
    html: str


@cache
def _inliner() -> css_inline.CSSInliner:
    """Return a CSS inliner that never fetches remote stylesheets (offline-safe)."""
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


# MJML's reset styles (`table, td { border-collapse ... }`, `p { margin: 13px 0 }`)
# stay in the head, where every client that needs them reads them; inlined they
# added some 600 bytes to each item and pushed long issues past Gmail's clip.
_RESET_STYLE = '<style type="text/css">\n#outlook a'
_RESET_STYLE_KEPT = '<style type="text/css" data-css-inline="ignore">\n#outlook a'

# The preview line is hidden by display and size, not by matching the background:
# text in the background's colour is what spam filters call low contrast.
_PREVIEW = re.compile(r'<div style="display:none;font-size:1px;color:#ffffff;[^"]*">')
_PREVIEW_HIDDEN = (
    '<div style="display:none;font-size:1px;color:#1b1f24;line-height:1px;'
    'max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all">'
)

# Mail apps that darken messages leave alone the ones that say they handle it.
_COLOR_SCHEME = (
    '<meta name="color-scheme" content="light dark">'
    '<meta name="supported-color-schemes" content="light dark">'
)
_VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


# MJML keeps no lang attribute on its components: the class lang-sv stands for one.
_LANG_CLASS = re.compile(r'class="([^"]*?) ?\blang-sv\b([^"]*)"')


def _lang_attribute(match: re.Match[str]) -> str:
    """A class attribute without lang-sv, and lang="sv" in its place."""
    rest = f"{match[1]}{match[2]}".strip()
    return f'class="{rest}" lang="sv"' if rest else 'lang="sv"'


def compile_mjml(source: str) -> str:
    """Compile MJML to responsive HTML with its CSS inlined into the elements."""
    html = mjml2html(
        source,
        disable_comments=True,
        fonts={},
        social_icon_origin=f"{settings().base_url}/static/social/",
    )
    html = html.replace(_RESET_STYLE, _RESET_STYLE_KEPT, 1)
    html = _PREVIEW.sub(_PREVIEW_HIDDEN, html, count=1)
    html = html.replace(_VIEWPORT, _VIEWPORT + _COLOR_SCHEME, 1)
    html = _LANG_CLASS.sub(_lang_attribute, html)
    return _inliner().inline(html).replace(' data-css-inline="ignore"', "", 1)


def _tidy_text(text: str) -> str:
    """Drop trailing spaces and runs of blank lines left by template tags."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render_email(name: str, locale: str = "sv", **context: Any) -> RenderedEmail:
    """Render templates/email/<name>/ in a language; the caller supplies the context."""
    folder = f"email/{name}"
    with force_locale(locale):
        subject = render_template(f"{folder}/subject.txt", **context)
        text = render_template(f"{folder}/body.txt", **context)
        mjml = render_template(f"{folder}/body.mjml", **context)
    return RenderedEmail(
        subject=" ".join(subject.split()),  # one line, whatever the template did
        text=_tidy_text(text),
        html=compile_mjml(mjml),
    )
