"""Building items from another site's feed: fetch, pick entries, add them."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import URLField
from wtforms.validators import DataRequired, Length

from newsletter.content import is_allowed_url
from newsletter.editor import bp
from newsletter.editor.forms import ActionForm
from newsletter.editor.issues import NotEditable
from newsletter.extensions import db
from newsletter.models import Issue, Item, Link
from newsletter.services import issues, themes
from newsletter.services.feed_import import FeedError, fetch_feed
from newsletter.services.issues import ItemData, LinkData


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
                allow_private=bool(current_app.config["FEED_IMPORT_ALLOW_PRIVATE"]),
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


@bp.post("/issues/<int:issue_id>/import-feed/add")
def add_feed_entries(issue_id: int) -> Response:
    """Add the picked entries: each a new item, or a link on an existing item."""
    record = _editable(issue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    target = request.form.get("target", "")
    picked = request.form.getlist("pick")
    added = 0
    for index in picked:
        title = request.form.get(f"title-{index}", "").strip()[:200]
        link = request.form.get(f"link-{index}", "").strip()
        summary = request.form.get(f"summary-{index}", "").strip()[:20000]
        if not title or (link and not is_allowed_url(link)) or len(link) > 2000:
            continue
        if target.startswith("theme:"):
            links = [LinkData(_("Read more"), link)] if link else []
            issues.add_item(
                record.id,
                ItemData(
                    title=title, body=summary, theme_id=int(target[6:]), links=links
                ),
                current_user.name,
            )
        elif target.startswith("item:") and link:
            item = db.get_or_404(Item, int(target[5:]))
            if item.issue_id != record.id:
                abort(400)
            item.links.append(Link(label=title, url=link, position=len(item.links)))
        else:
            continue
        added += 1
    db.session.commit()
    flash(_("%(num)d entries added.", num=added), "success" if added else "error")
    return redirect(url_for("editor.issue", issue_id=record.id))
