"""Issues reach subscribers through the queue, a worker and a real SMTP server."""

from __future__ import annotations

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import Delivery, Issue
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.factories import make_issue, make_item, make_subscriber


def send_issue(app, issue_id: int) -> None:
    """Start sending and let one worker drain the queue."""
    with app.app_context():
        sending.start_sending(issue_id, utcnow())
        db.session.commit()
    Worker(app).run(once=True)


def test_smoke(mail_app, smtp_server):
    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "psykisk-halsa", links=[("Program", "https://a.se")])
        make_subscriber()
        make_subscriber("bo@example.se", "Bo", themes=("aldre",))
        issue_id = issue.id
    send_issue(mail_app, issue_id)
    assert smtp_server.sink.recipients() == ["anna@example.se"]
    with mail_app.app_context():
        assert db.session.get(Issue, issue_id).status == "sent"
        statuses = sorted(d.status for d in db.session.scalars(db.select(Delivery)))
        assert statuses == ["sent", "skipped"]
    message = smtp_server.sink.messages()[0]
    print(message)
