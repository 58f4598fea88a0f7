"""Email preview, test sends, sending and scheduling, and following a send."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from newsletter.editor import bp
from newsletter.editor.forms import ActionForm, ScheduleForm, TestSendForm
from newsletter.errors import InvalidState
from newsletter.extensions import db
from newsletter.mail.emails import preview_email
from newsletter.models import Issue
from newsletter.models.types import utcnow
from newsletter.services import sending

EMAIL_PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


@bp.errorhandler(InvalidState)
def wrong_state(error: InvalidState) -> Response:
    """Explain that the issue has moved on (someone else sent or paused it)."""
    db.session.rollback()
    flash(
        _("That is not possible while the issue is %(status)s.", status=error.status),
        "error",
    )
    return redirect(url_for("editor.issues"))


@bp.get("/issues/<int:issue_id>/email")
def email_preview(issue_id: int) -> str:
    """Show the email at desktop and phone width, the text part and a test form."""
    issue = db.get_or_404(Issue, issue_id)
    rendered = preview_email(issue, str(get_locale()))
    return render_template(
        "editor/email_preview.html",
        issue=issue,
        rendered=rendered,
        form=TestSendForm(),
    )


@bp.get("/issues/<int:issue_id>/email.html")
def email_html(issue_id: int) -> Response:
    """Serve the compiled email HTML for the preview frames, scripts disabled."""
    issue = db.get_or_404(Issue, issue_id)
    response = Response(
        preview_email(issue, str(get_locale())).html,
        content_type="text/html; charset=utf-8",
    )
    response.headers["Content-Security-Policy"] = EMAIL_PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/issues/<int:issue_id>/test")
def test_send(issue_id: int) -> str | Response | tuple[str, int]:
    """Queue a test copy to a few addresses."""
    issue = db.get_or_404(Issue, issue_id)
    form = TestSendForm()
    if form.validate_on_submit():
        count = sending.queue_test_send(
            issue.id, form.addresses.addresses, str(get_locale())
        )
        db.session.commit()
        flash(
            ngettext(
                "A test copy is on its way to %(num)d address.",
                "A test copy is on its way to %(num)d addresses.",
                count,
            ),
            "success",
        )
        return redirect(url_for("editor.email_preview", issue_id=issue.id))
    rendered = preview_email(issue, str(get_locale()))
    return render_template(
        "editor/email_preview.html", issue=issue, rendered=rendered, form=form
    ), 422


@bp.get("/issues/<int:issue_id>/send")
def confirm_send(issue_id: int) -> str:
    """Show the number of recipients and ask to send now or schedule."""
    issue = db.get_or_404(Issue, issue_id)
    return render_template(
        "editor/send.html",
        issue=issue,
        recipients=sending.recipient_count(issue.id),
        schedule_form=ScheduleForm(),
        action=ActionForm(),
    )


@bp.post("/issues/<int:issue_id>/send")
def send_now(issue_id: int) -> Response:
    """Publish the issue and queue it for every recipient."""
    if not ActionForm().validate_on_submit():
        abort(400)
    sending.start_sending(issue_id, utcnow())
    db.session.commit()
    flash(_("The issue is published and being sent."), "success")
    return redirect(url_for("editor.progress", issue_id=issue_id))


@bp.post("/issues/<int:issue_id>/schedule")
def schedule(issue_id: int) -> str | Response | tuple[str, int]:
    """Schedule the issue for a time in Stockholm."""
    issue = db.get_or_404(Issue, issue_id)
    form = ScheduleForm()
    if form.validate_on_submit():
        sending.schedule(issue.id, form.send_at.utc)
        db.session.commit()
        flash(_("The issue is scheduled."), "success")
        return redirect(url_for("editor.issue", issue_id=issue.id))
    return render_template(
        "editor/send.html",
        issue=issue,
        recipients=sending.recipient_count(issue.id),
        schedule_form=form,
        action=ActionForm(),
    ), 422


def _state_change(issue_id: int, change: str) -> Response:
    """Apply pause, resume, cancel, unschedule or retry, then show the progress."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db.get_or_404(Issue, issue_id)
    now = utcnow()
    messages = {
        "pause": _("Sending is paused."),
        "resume": _("Sending is resumed."),
        "cancel": _("Sending is cancelled. Messages already sent stay sent."),
        "unschedule": _("The schedule is removed; the issue is a draft again."),
        "retry": _("The failed deliveries are queued again."),
    }
    actions = {
        "pause": lambda: sending.pause(issue_id),
        "resume": lambda: sending.resume(issue_id),
        "cancel": lambda: sending.cancel(issue_id, now),
        "unschedule": lambda: sending.unschedule(issue_id),
        "retry": lambda: sending.retry_failed(issue_id, now),
    }
    actions[change]()
    db.session.commit()
    flash(messages[change], "success")
    if change == "unschedule":
        return redirect(url_for("editor.issue", issue_id=issue_id))
    return redirect(url_for("editor.progress", issue_id=issue_id))


for _change in ("pause", "resume", "cancel", "unschedule", "retry"):
    bp.add_url_rule(
        f"/issues/<int:issue_id>/{_change}",
        endpoint=f"{_change}_sending",
        view_func=lambda issue_id, change=_change: _state_change(issue_id, change),
        methods=["POST"],
    )


@bp.get("/issues/<int:issue_id>/progress")
def progress(issue_id: int) -> str:
    """Show counts, a progress bar and the failures of a send."""
    issue = db.get_or_404(Issue, issue_id)
    return render_template(
        "editor/progress.html",
        issue=issue,
        progress=sending.progress(issue.id),
        failures=sending.failures(issue.id),
        action=ActionForm(),
    )


@bp.get("/issues/<int:issue_id>/progress.json")
def progress_json(issue_id: int) -> Response:
    """Return the counts for the progress page to refresh itself."""
    issue = db.get_or_404(Issue, issue_id)
    current = sending.progress(issue.id)
    return jsonify(status=issue.status, percent=current.percent, **current.counts)
