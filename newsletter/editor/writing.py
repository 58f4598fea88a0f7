"""Writing an item's text: the live preview beside the text field.

The preview is rendered by the server with the same Markdown rendering and
sanitiser as the email, the archive and the feeds, so what the editor sees there
is what readers will see. It changes nothing and keeps nothing.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from flask_babel import gettext as _
from markupsafe import escape

from newsletter.content import render_markdown, text_input
from newsletter.editor.forms import ActionForm

bp = Blueprint("writing", __name__)

# The longest text field (an item's) takes 20,000 characters.
MAX_PREVIEW = 20_000


@bp.post("/text-preview")
def text_preview() -> tuple[str, int, dict[str, str]]:
    """Render a text field's Markdown as readers will see it."""
    if not ActionForm().validate_on_submit():
        abort(400)
    text = text_input(request.form.get("text"))
    html = {"Content-Type": "text/html; charset=utf-8"}
    if len(text) > MAX_PREVIEW:
        message = _(
            "The text is longer than %(count)s characters; shorten it to see it.",
            count=f"{MAX_PREVIEW:,}".replace(",", "\u00a0"),
        )
        return f'<p class="error">{escape(message)}</p>', 413, html
    return str(render_markdown(text)), 200, html
