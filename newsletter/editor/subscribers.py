"""The subscriber list, one subscriber, CSV import with preview, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter.config import settings
from newsletter.editor.forms import ActionForm, ImportConfirmForm, ImportUploadForm
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.models import (
    ImportDraft,
    Subscriber,
    SubscriberStatus,
)
from newsletter.models.types import utcnow
from newsletter.request_limits import file_too_large, takes_file
from newsletter.services import (
    bounces,
    subscriber_import,
    subscribers,
    subscriptions,
    themes,
)
from newsletter.services.subscribers import SubscriberFilter
from newsletter.services.subscriptions import Origin

bp = Blueprint("subscribers", __name__)


def _filter() -> SubscriberFilter:
    """Read the list filter from the query string."""
    status = request.args.get("status", "")
    return SubscriberFilter(
        query=request.args.get("q", "").strip()[:200],
        status=status if status in list(SubscriberStatus) else "",
        theme_slug=request.args.get("theme", "")[:80],
    )


@bp.get("/subscribers")
def subscriber_list() -> str:
    """Search and filter subscribers, with counts and growth."""
    wanted = _filter()
    page = min(max(1, request.args.get("page", 1, type=int)), 10**6)
    rows, total = subscribers.search(wanted, page)
    return render_template(
        "editor/subscribers.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // 50)),
        wanted=wanted,
        statuses=list(SubscriberStatus),
        by_status=subscribers.count_by_status(),
        by_theme=subscribers.count_by_theme(),
        growth=subscribers.confirmed_per_month(),
        themes=themes.list_themes(),
    )


@bp.get("/subscribers/export.csv")
def export_subscribers() -> Response:
    """Download the filtered list as CSV (email,name,themes).

    Without a status filter only confirmed subscribers are exported: the file has
    no status column, and re-importing it must not add people who withdrew.
    """
    wanted = _filter()
    if not wanted.status:
        wanted = SubscriberFilter(
            wanted.query, SubscriberStatus.CONFIRMED, wanted.theme_slug
        )

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        yield "\ufeff"  # spreadsheet programs then read UTF-8 correctly
        for row in subscribers.export_rows(wanted):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="prenumeranter.csv"'},
    )


@bp.get("/subscribers/<int:subscriber_id>")
def subscriber(subscriber_id: int) -> str:
    """One subscriber: profile, themes, consent history, deliveries."""
    record = db.get_or_404(Subscriber, subscriber_id)
    return render_template(
        "editor/subscriber.html",
        record=record,
        deliveries=subscribers.delivery_history(record.id),
        bounces=bounces.subscriber_bounces(record.id),
        action=ActionForm(),
    )


@bp.post("/subscribers/<int:subscriber_id>/unsubscribe")
def unsubscribe_subscriber(subscriber_id: int) -> Response:
    """Unsubscribe on the subscriber's behalf, recorded with the editor's name."""
    record = db.get_or_404(Subscriber, subscriber_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    origin = Origin(how=f"editor {current_user.name}")
    subscriptions.unsubscribe(record, origin, utcnow())
    db.session.commit()
    flash(_("%(address)s is unsubscribed.", address=record.email), "success")
    return redirect(url_for("editor.subscribers.subscriber", subscriber_id=record.id))


@bp.post("/subscribers/<int:subscriber_id>/erase")
def erase_subscriber(subscriber_id: int) -> Response:
    """Erase a subscriber on request, recorded with the editor's name."""
    record = db.get_or_404(Subscriber, subscriber_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    address = record.email
    subscriptions.erase(record, by=current_user.name)
    db.session.commit()
    flash(_("Everything about %(address)s is erased.", address=address), "success")
    return redirect(url_for("editor.subscribers.subscriber_list"))


@bp.route("/subscribers/import", methods=["GET", "POST"])
@takes_file(lambda config: config.import_max_bytes)
def import_upload() -> str | Response | tuple[str, int]:
    """Upload a CSV file; nothing is imported before the preview is accepted."""
    limit = settings().import_max_bytes
    form = ImportUploadForm(limit)
    if form.validate_on_submit():
        raw = form.file.data.read(limit + 1)
        if len(raw) > limit:
            add_error(form.file, file_too_large(limit))
        elif (text := _csv_text(raw)) is None:
            add_error(form.file, _("The file is not UTF-8 text. Save it as CSV UTF-8."))
        elif "\x00" in text:
            add_error(form.file, _("The file contains binary data, not CSV text."))
        else:
            draft = subscriptions.save_import_draft(
                form.file.data.filename or "", text, current_user.name
            )
            db.session.commit()
            return redirect(
                url_for("editor.subscribers.import_preview", draft_id=draft.id)
            )
    return render_template("editor/import.html", form=form), (
        422 if form.errors else 200
    )


def _csv_text(raw: bytes) -> str | None:
    """The text of an uploaded file, or None when it is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


@bp.route("/subscribers/import/<int:draft_id>", methods=["GET", "POST"])
def import_preview(draft_id: int) -> str | Response | tuple[str, int]:
    """Show what the file would do, row errors included; import on confirmation."""
    draft = db.get_or_404(ImportDraft, draft_id)
    preview = subscriber_import.preview_import(draft.content)
    form = ImportConfirmForm()
    if form.validate_on_submit():
        attestation = form.attestation.data if form.mode.data == "attested" else ""
        added = subscriber_import.import_file(
            draft.content, attestation, current_user.name, utcnow()
        )
        subscriptions.discard_import_draft(draft.id)
        db.session.commit()
        flash(_("%(num)d addresses imported.", num=added), "success")
        return redirect(url_for("editor.subscribers.subscriber_list"))
    return render_template(
        "editor/import_preview.html", draft=draft, preview=preview, form=form
    ), (422 if form.errors else 200)


@bp.get("/subscribers/embed")
def embed() -> str:
    """A sign-up form other sites can paste into their pages."""
    return render_template(
        "editor/embed.html", themes=themes.list_themes(active_only=True)
    )
