"""Building items from another site's feed: fetch, pick entries, add them."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import URLField
from wtforms.validators import DataRequired, Length

from newsletter.config import settings
from newsletter.content import (
    escape_markdown,
    is_allowed_url,
    text_input,
    title_from,
)
from newsletter.editor import bp
from newsletter.editor.forms import ActionForm
from newsletter.editor.issues import NotEditable
from newsletter.extensions import db
from newsletter.models import Issue, Item, Link, Theme
from newsletter.services import issues, themes
from newsletter.services.feed_import import FeedError, fetch_feed
from newsletter.services.issues import ItemData, LinkData
from newsletter.web import MAX_ROW_ID


class FeedURLForm(FlaskForm):
    """The address of an RSS or Atom feed."""

    url = URLField(
        _l("Feed address"),
        validators=[DataRequired(_l("Enter the address of a feed.")), Length(max=2000)],
    )


def _editable(issue_id: int) -> Issue:
    record = db.get_or_404(Issue, issue_id)
    if not record.is_editable:
        raise NotEditable(record.status)
    return record


@bp.route("/issues/<int:issue_id>/import-feed", methods=["GET", "POST"])
def import_feed(issue_id: int) -> str | tuple[str, int]:
    """Fetch a feed and show its entries to pick from."""
    record = _editable(issue_id)
    form = FeedURLForm()
    entries = None
    if form.validate_on_submit():
        try:
            entries = fetch_feed(
                form.url.data.strip(),
                allow_private=settings().feed_import_allow_private,
            )
        except FeedError as error:
            form.url.errors.append(
                _("Could not read the feed: %(reason)s", reason=str(error))
            )
    return render_template(
        "editor/import_feed.html",
        issue=record,
        form=form,
        entries=entries,
        themes=themes.list_themes(active_only=True),
        action=ActionForm(),
    ), (422 if form.errors else 200)


def _destination(record: Issue, target: str) -> Theme | Item:
    """The active theme or this issue's item that the picked entries go to."""
    kind, _sep, number = target.partition(":")
    valid = number.isascii() and number.isdigit() and int(number) <= MAX_ROW_ID
    if not valid or kind not in ("theme", "item"):
        abort(400)
    if kind == "theme":
        found = db.session.get(Theme, int(number))
        if found is None or not found.active:
            abort(400)
        return found
    item = db.session.get(Item, int(number))
    if item is None or item.issue_id != record.id:
        abort(400)
    return item


@bp.post("/issues/<int:issue_id>/import-feed/add")
def add_feed_entries(issue_id: int) -> Response:
    """Add the picked entries: each a new item, or a link on an existing item."""
    record = _editable(issue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    destination = _destination(record, request.form.get("target", ""))
    added = skipped = 0
    for index in request.form.getlist("pick"):
        # The values came from our page, but they are checked like any input.
        title = title_from(text_input(request.form.get(f"title-{index}")))
        link = text_input(request.form.get(f"link-{index}"))
        summary = text_input(request.form.get(f"summary-{index}"))[:20000]
        if link and (not is_allowed_url(link) or len(link) > 2000):
            link = ""
        if not title or (isinstance(destination, Item) and not link):
            skipped += 1
            continue
        if isinstance(destination, Theme):
            issues.add_item(
                record.id,
                ItemData(
                    title=title,
                    body=escape_markdown(summary),
                    theme_id=destination.id,
                    links=[LinkData(_("Read more"), link)] if link else [],
                ),
                current_user.name,
            )
        else:
            destination.links.append(
                Link(label=title, url=link, position=len(destination.links))
            )
        added += 1
    db.session.commit()
    if skipped:
        flash(
            _(
                "%(num)d entries added; %(skipped)d had no title or no link to add.",
                num=added,
                skipped=skipped,
            ),
            "error",
        )
    else:
        flash(_("%(num)d entries added.", num=added), "success" if added else "error")
    return redirect(url_for("editor.issue", issue_id=record.id))
