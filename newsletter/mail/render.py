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


def compile_mjml(source: str) -> str:
    """Compile MJML to responsive HTML with its CSS inlined into the elements."""
    html = mjml2html(
        source,
        disable_comments=True,
        fonts={},
        social_icon_origin=f"{settings().base_url}/static/social/",
    )
    return _inliner().inline(html)


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
