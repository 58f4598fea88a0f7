"""Building items from another site's feed: fetch, pick entries, add them."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.validators import DataRequired, Length

from newsletter.config import settings
from newsletter.content import is_allowed_url, text_input, title_from
from newsletter.editor.forms import ActionForm
from newsletter.extensions import db
from newsletter.form_fields import URLField, add_error
from newsletter.services import feed_import, issues, themes
from newsletter.services.feed_import import FeedEntry, FeedError, fetch_feed
from newsletter.web import MAX_ROW_ID

bp = Blueprint("feeds", __name__)


class FeedURLForm(FlaskForm):
    """The address of an RSS or Atom feed."""

    url = URLField(
        _l("Feed address"),
        validators=[DataRequired(_l("Enter the address of a feed.")), Length(max=2000)],
    )


@bp.route("/issues/<int:issue_id>/import-feed", methods=["GET", "POST"])
def import_feed(issue_id: int) -> str | tuple[str, int]:
    """Fetch a feed and show its entries to pick from."""
    record = issues.editable_issue(issue_id)
    form = FeedURLForm()
    entries = None
    if form.validate_on_submit():
        try:
            entries = fetch_feed(
                form.url.data.strip(),
                allow_private=settings().allow_private_fetches,
            )
        except FeedError as error:
            add_error(
                form.url, _("Could not read the feed: %(reason)s", reason=str(error))
            )
    return render_template(
        "editor/import_feed.html",
        issue=record,
        form=form,
        entries=entries,
        themes=themes.list_themes(active_only=True),
        action=ActionForm(),
    ), (422 if form.errors else 200)


def _target() -> tuple[str, int]:
    """Read where the picked entries go, "theme:<id>" or "item:<id>", or refuse."""
    kind, _sep, number = request.form.get("target", "").partition(":")
    valid = number.isascii() and number.isdigit() and int(number) <= MAX_ROW_ID
    if not valid or kind not in ("theme", "item"):
        abort(400)
    return kind, int(number)


def _picked_entries() -> list[FeedEntry]:
    """Read the picked entries back from the form, checked like any input."""
    entries = []
    for index in request.form.getlist("pick"):
        title = title_from(text_input(request.form.get(f"title-{index}")))
        link = text_input(request.form.get(f"link-{index}"))
        summary = text_input(request.form.get(f"summary-{index}"))[:20000]
        if link and (not is_allowed_url(link) or len(link) > 2000):
            link = ""
        entries.append(FeedEntry(title, link, summary, published=""))
    return entries


@bp.post("/issues/<int:issue_id>/import-feed/add")
def add_feed_entries(issue_id: int) -> Response:
    """Add the picked entries: each a new item, or a link on an existing item."""
    if not ActionForm().validate_on_submit():
        abort(400)
    kind, target_id = _target()
    add = (
        feed_import.add_entries_as_items
        if kind == "theme"
        else feed_import.add_entries_as_links
    )
    try:
        added, skipped = add(issue_id, target_id, _picked_entries(), current_user.name)
    except feed_import.NoSuchDestination:
        abort(400)
    db.session.commit()
    if skipped:
        message = _(
            "%(num)d entries added; %(skipped)d had no title or no link to add.",
            num=added,
            skipped=skipped,
        )
        flash(message, "error")
    else:
        flash(_("%(num)d entries added.", num=added), "success" if added else "error")
    return redirect(url_for("editor.issues.edit", issue_id=issue_id))
