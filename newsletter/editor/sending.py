"""Email preview, test sends, sending and scheduling, and following a send."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from newsletter.editor.forms import ActionForm, ScheduleForm, TestSendForm
from newsletter.extensions import db
from newsletter.form_fields import add_error
from newsletter.mail.emails import preview_email
from newsletter.models import Issue
from newsletter.models.types import utcnow
from newsletter.services import bounces, links, review, sending
from newsletter.web import email_frame_policy

# Gmail shows only the first 102 KB of a message's HTML and hides the rest,
# unsubscribe link included; the preview warns well before that.
GMAIL_CLIP_BYTES = 102 * 1024
SIZE_WARNING_BYTES = 90 * 1024

bp = Blueprint("sending", __name__)


def _size_context(html: str) -> dict[str, object]:
    """The email's HTML size in KB and whether it is close to Gmail's clip."""
    size = len(html.encode())
    return {
        "html_kb": round(size / 1024),
        "too_big": size >= SIZE_WARNING_BYTES,
    }


# Session keys of the test-send form: the addresses last used, the count just sent.
TEST_ADDRESSES = "test_send_addresses"
TEST_SENT = "test_send_done"


@bp.get("/issues/<int:issue_id>/email")
def email_preview(issue_id: int) -> str:
    """Show the email at desktop and phone width, the text part and a test form."""
    issue = db.get_or_404(Issue, issue_id)
    rendered = preview_email(issue, str(get_locale()))
    # The box keeps the addresses last tested in this session, else the editor's own.
    form = TestSendForm(addresses=session.get(TEST_ADDRESSES) or current_user.email)
    sent = session.pop(TEST_SENT, None)
    return render_template(
        "editor/email_preview.html",
        issue=issue,
        rendered=rendered,
        form=form,
        **_size_context(rendered.html),
        test_sent=sent["count"] if sent and sent.get("issue") == issue.id else None,
    )


@bp.get("/issues/<int:issue_id>/email.html")
def email_html(issue_id: int) -> Response:
    """Serve the compiled email HTML for the preview frames, scripts disabled."""
    issue = db.get_or_404(Issue, issue_id)
    response = Response(
        preview_email(issue, str(get_locale())).html,
        content_type="text/html; charset=utf-8",
    )
    response.headers["Content-Security-Policy"] = email_frame_policy()
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/issues/<int:issue_id>/test")
def test_send(issue_id: int) -> str | Response | tuple[str, int]:
    """Queue a test copy to a few addresses."""
    issue = db.get_or_404(Issue, issue_id)
    form = TestSendForm()
    if form.validate_on_submit():
        try:
            count = sending.queue_test_send(
                issue.id, form.recipients, str(get_locale()), current_user.email
            )
        except review.ApprovalMissing as refusal:
            db.session.rollback()
            add_error(form.addresses, str(refusal))
            return _preview_page(issue, form)
        db.session.commit()
        # Shown beside the button (not at the top of the long page), with the
        # addresses kept for the next test.
        session[TEST_ADDRESSES] = ", ".join(form.recipients)
        session[TEST_SENT] = {"issue": issue.id, "count": count}
        return redirect(
            url_for("editor.sending.email_preview", issue_id=issue.id) + "#send-test"
        )
    return _preview_page(issue, form)


def _preview_page(issue: Issue, form: TestSendForm) -> tuple[str, int]:
    """The email preview again, with the test form's errors."""
    rendered = preview_email(issue, str(get_locale()))
    return render_template(
        "editor/email_preview.html",
        issue=issue,
        rendered=rendered,
        form=form,
        **_size_context(rendered.html),
    ), 422


@bp.get("/issues/<int:issue_id>/send")
def confirm_send(issue_id: int) -> str:
    """Show the number of recipients and ask to send now or schedule, or say
    whose approval the issue still needs."""
    issue = db.get_or_404(Issue, issue_id)
    return _send_page(issue, ScheduleForm())


def _send_page(issue: Issue, schedule_form: ScheduleForm) -> str:
    """The send page; it offers sending and scheduling only when the POSTs would
    accept them (the same approval check as theirs)."""
    refusal = review.may_send(issue)
    return render_template(
        "editor/send.html",
        issue=issue,
        recipients=sending.recipient_count(issue.id),
        broken_links=links.broken_links(issue.id),
        schedule_form=schedule_form,
        action=ActionForm(),
        approval_missing=refusal,
        approvers=review.approvers(issue) if refusal else [],
    )


@bp.post("/issues/<int:issue_id>/send")
def send_now(issue_id: int) -> Response:
    """Publish the issue and queue it for every recipient."""
    if not ActionForm().validate_on_submit():
        abort(400)
    sending.start_sending(issue_id, utcnow())
    db.session.commit()
    flash(_("The issue is published and being sent."), "success")
    return redirect(url_for("editor.sending.progress", issue_id=issue_id))


@bp.post("/issues/<int:issue_id>/schedule")
def schedule(issue_id: int) -> str | Response | tuple[str, int]:
    """Schedule the issue for a time in Stockholm."""
    issue = db.get_or_404(Issue, issue_id)
    form = ScheduleForm()
    if form.validate_on_submit():
        sending.schedule(issue.id, form.send_at_utc)
        db.session.commit()
        flash(_("The issue is scheduled."), "success")
        return redirect(url_for("editor.issues.edit", issue_id=issue.id))
    return _send_page(issue, form), 422


def _require_action_form() -> None:
    """Refuse a state change whose form token is missing or stale."""
    if not ActionForm().validate_on_submit():
        abort(400)


def _changed(
    issue_id: int, message: str, page: str = "editor.sending.progress"
) -> Response:
    """Commit a state change, say what it did and show where it leads."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(page, issue_id=issue_id))


@bp.post("/issues/<int:issue_id>/pause")
def pause_sending(issue_id: int) -> Response:
    """Pause a send; messages already in flight still finish."""
    _require_action_form()
    sending.pause(issue_id)
    return _changed(issue_id, _("Sending is paused."))


@bp.post("/issues/<int:issue_id>/resume")
def resume_sending(issue_id: int) -> Response:
    """Resume a paused send."""
    _require_action_form()
    sending.resume(issue_id)
    return _changed(issue_id, _("Sending is resumed."))


@bp.post("/issues/<int:issue_id>/cancel")
def cancel_sending(issue_id: int) -> Response:
    """Cancel a send for good; what is already sent stays sent."""
    _require_action_form()
    sending.cancel(issue_id, utcnow())
    return _changed(
        issue_id, _("Sending is cancelled. Messages already sent stay sent.")
    )


@bp.post("/issues/<int:issue_id>/unschedule")
def unschedule_sending(issue_id: int) -> Response:
    """Remove the schedule; the issue becomes a draft again."""
    _require_action_form()
    sending.unschedule(issue_id)
    return _changed(
        issue_id,
        _("The schedule is removed; the issue is a draft again."),
        page="editor.issues.edit",
    )


@bp.post("/issues/<int:issue_id>/retry")
def retry_sending(issue_id: int) -> Response:
    """Queue the failed deliveries of a send again."""
    _require_action_form()
    sending.retry_failed(issue_id, utcnow())
    return _changed(issue_id, _("The failed deliveries are queued again."))


@bp.get("/issues/<int:issue_id>/progress")
def progress(issue_id: int) -> str:
    """Show counts, a progress bar and the failures of a send."""
    issue = db.get_or_404(Issue, issue_id)
    return render_template(
        "editor/progress.html",
        issue=issue,
        progress=sending.progress(issue.id),
        reports=bounces.issue_reports(issue.id),
        failures=sending.failures(issue.id),
        action=ActionForm(),
    )


@bp.get("/issues/<int:issue_id>/progress.json")
def progress_json(issue_id: int) -> Response:
    """Return the counts for the progress page to refresh itself."""
    issue = db.get_or_404(Issue, issue_id)
    current = sending.progress(issue.id)
    return jsonify(status=issue.status, percent=current.percent, **current.counts)
