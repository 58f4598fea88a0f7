"""The editor area: everything under /editor is behind login."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

bp = Blueprint("editor", __name__, url_prefix="/editor")

PUBLIC_ENDPOINTS = {"editor.login"}


@bp.before_request
def require_login() -> Response | None:
    """Send anonymous visitors of any editor page to the login form."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return redirect(url_for("editor.login", next=request.full_path.rstrip("?")))


@bp.after_request
def no_store(response: Response) -> Response:
    """Keep editor pages out of shared caches and the back-button cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


from newsletter.editor import (  # noqa: E402,F401
    admin,
    auth,
    feeds,
    issues,
    sending,
    subscribers,
)
