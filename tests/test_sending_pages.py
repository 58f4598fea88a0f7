"""The editor's side of sending: previews, confirmation, schedule, progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from newsletter.extensions import db
from newsletter.models import Delivery, Issue
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.factories import make_issue, make_item, make_subscriber


def issue_with_readers(app) -> int:
    """An issue with items in Äldre and three subscribers, two of whom want them."""
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Ensamhet bland äldre")
        make_subscriber("a@example.se", themes=("aldre",))
        make_subscriber("b@example.se")
        make_subscriber("c@example.se", themes=("barn-och-unga",))
        make_subscriber("d@example.se", status="unsubscribed")
        return issue.id


def test_email_preview_shows_both_widths_and_the_text_part(app, editor):
    issue_id = issue_with_readers(app)
    page = editor.get(f"/editor/issues/{issue_id}/email").get_data(as_text=True)
    assert 'class="email-desktop"' in page and 'class="email-phone"' in page
    assert "ÄLDRE" in page  # the text part, in a <pre>
    assert "Ensamhet bland äldre" in page
    html = editor.get(f"/editor/issues/{issue_id}/email.html")
    assert html.status_code == 200
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in html.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in html.headers["Content-Security-Policy"]
    assert "<mj-" not in html.get_data(as_text=True)
    assert "Ensamhet bland äldre" in html.get_data(as_text=True)


def test_send_confirmation_shows_the_number_of_recipients(app, publisher):
    issue_id = issue_with_readers(app)
    page = publisher.get(f"/editor/issues/{issue_id}/send").get_data(as_text=True)
    assert "Numret går till 2 prenumeranter." in page


def test_send_now_publishes_and_queues_without_touching_smtp(app, publisher):
    issue_id = issue_with_readers(app)
    response = publisher.post(f"/editor/issues/{issue_id}/send")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/editor/issues/{issue_id}/progress")
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.status == "sending" and issue.published_at is not None
    assert "Nyhetsbrev februari 2026" in publisher.get("/").get_data(as_text=True)
    # Sending twice is refused with a message, not a second send.
    response = publisher.post(f"/editor/issues/{issue_id}/send", follow_redirects=True)
    assert "Det går inte medan numret har status sending." in response.get_data(
        as_text=True
    )


def test_schedule_is_read_in_stockholm_time_and_must_be_in_the_future(app, publisher):
    issue_id = issue_with_readers(app)
    response = publisher.post(
        f"/editor/issues/{issue_id}/schedule", data={"send_at": "2020-01-01T08:00"}
    )
    assert response.status_code == 422
    assert "Välj en tidpunkt i framtiden." in response.get_data(as_text=True)
    local = (datetime.now(ZoneInfo("Europe/Stockholm")) + timedelta(days=3)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    response = publisher.post(
        f"/editor/issues/{issue_id}/schedule",
        data={"send_at": local.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 302
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.status == "scheduled"
        assert issue.scheduled_at == local.astimezone(UTC)
    page = publisher.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert local.strftime("%H:%M") in page and "Schemalagt till" in page
    # Nothing has gone out: the progress page says when it will, not "done".
    progress = publisher.get(f"/editor/issues/{issue_id}/progress").get_data(
        as_text=True
    )
    assert 'value="0"' in progress and "Schemalagt till" in progress
    assert "/unschedule" in progress
    assert (
        publisher.get(f"/editor/issues/{issue_id}/progress.json").json["percent"] == 0
    )
    publisher.post(f"/editor/issues/{issue_id}/unschedule")
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == "draft"


def test_progress_page_counts_failures_and_offers_pause_and_retry(app, publisher):
    issue_id = issue_with_readers(app)
    with app.app_context():
        sending.start_sending(issue_id, utcnow())
        sending.fan_out(issue_id, utcnow())
        first = db.session.scalars(db.select(Delivery).order_by(Delivery.id)).first()
        first.status, first.attempts = "failed", 1
        first.last_error = "550 5.1.1 User unknown"
        db.session.commit()
    page = publisher.get(f"/editor/issues/{issue_id}/progress").get_data(as_text=True)
    assert "550 5.1.1 User unknown" in page and "a@example.se" in page
    assert 'value="67"' in page  # 2 of 3 rows need no more work
    assert "Pausa" in page and "Försök igen med misslyckade" in page
    assert publisher.get(f"/editor/issues/{issue_id}/progress.json").json == {
        "status": "sending",
        "percent": 67,
        "queued": 1,
        "sending": 0,
        "sent": 0,
        "failed": 1,
        "skipped": 1,
    }
    publisher.post(f"/editor/issues/{issue_id}/pause")
    publisher.post(f"/editor/issues/{issue_id}/retry")
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == "paused"
        assert sending.progress(issue_id).counts["queued"] == 2
    publisher.post(f"/editor/issues/{issue_id}/cancel")
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == "cancelled"
        assert sending.progress(issue_id).counts["queued"] == 0


def test_a_sent_issue_can_no_longer_be_sent_or_edited(app, editor):
    with app.app_context():
        issue_id = make_issue(status="sent").id
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Skicka eller schemalägg" not in page and "Följ utskicket" in page
