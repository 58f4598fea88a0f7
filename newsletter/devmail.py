"""The local mail catcher's inbox, readable in the browser (development only)."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from flask import Blueprint, Flask, abort, render_template
from werkzeug.wrappers import Response

from newsletter.config import settings, settings_of
from newsletter.devmail_server import ensure_maildir
from newsletter.web import email_frame_policy

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")

# Our own pages refuse to be framed, so a link followed inside the frame shows an
# error: every link of the shown email opens in a new tab instead.
NEW_TAB_BASE = '<base target="_blank">'
HEAD_TAG = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def _maildir() -> mailbox.Maildir:
    """Open the catcher's Maildir, creating it if needed."""
    path = settings().mailbox_path
    if not path:
        abort(404)
    ensure_maildir(path)
    return mailbox.Maildir(path, factory=None, create=False)


def _parse(box: mailbox.Maildir, key: str) -> EmailMessage:
    """Read one message with the modern email API."""
    try:
        with box.get_file(key) as handle:
            return BytesParser(policy=policy.default).parsebytes(handle.read())
    except KeyError:
        abort(404)


def _links_in_new_tabs(html: str) -> str:
    """Put a base element first in the head so that every link opens a new tab."""
    head = HEAD_TAG.search(html)
    if head is None:
        return NEW_TAB_BASE + html
    return html[: head.end()] + NEW_TAB_BASE + html[head.end() :]


def _part(message: EmailMessage, subtype: str) -> str:
    """Return the decoded text of a text/<subtype> part, or ''."""
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


@bp.get("/")
def inbox() -> str:
    """List caught messages, newest first."""
    box = _maildir()
    rows = []
    for key in box.keys():
        message = _parse(box, key)
        sent = message["Date"].datetime if message["Date"] else None
        if sent is not None and sent.tzinfo is None:  # "-0000": zone unknown
            sent = sent.replace(tzinfo=UTC)
        # Date headers have whole seconds: messages of one second are told
        # apart by when the catcher received them.
        received = box.get_message(key).get_date()
        rows.append((sent, received, key, message))
    undated = datetime.min.replace(tzinfo=UTC)  # listed last
    rows.sort(key=lambda row: (row[0] or undated, row[1]), reverse=True)
    return render_template(
        "devmail/inbox.html", rows=[(sent, key, msg) for sent, _, key, msg in rows]
    )


@bp.get("/<key>")
def show(key: str) -> str:
    """Show one message: headers, text part and the HTML in a frame."""
    message = _parse(_maildir(), key)
    return render_template(
        "devmail/message.html", key=key, message=message, text=_part(message, "plain")
    )


@bp.get("/<key>/html")
def html(key: str) -> Response:
    """Serve the HTML part for the frame, with scripts and forms disabled and links
    opening in a new tab."""
    body = _links_in_new_tabs(_part(_parse(_maildir(), key), "html"))
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = email_frame_policy()
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def init_app(app: Flask) -> None:
    """Register the inbox when a catcher Maildir is configured, for a local trial or
    tests only: it shows every caught message, links included, to anyone."""
    config = settings_of(app)
    local = config.env == "development" or app.testing
    if config.mailbox_path and local:
        app.register_blueprint(bp)
