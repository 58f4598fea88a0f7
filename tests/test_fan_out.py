"""Fan-out: one delivery row per confirmed subscriber, written in one statement."""

from __future__ import annotations

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Delivery, Subscriber
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.factories import make_issue, make_item, make_subscriber


def test_fan_out_queues_each_confirmed_subscriber_once_and_skips_other_themes(app):
    with app.app_context():
        issue = make_issue()
        issue_id = issue.id
        make_item(issue, "aldre")
        make_item(issue, "psykisk-halsa")
        make_item(issue, "psykisk-halsa", title="Ännu en artikel")
        make_subscriber("both@example.se", themes=("aldre", "psykisk-halsa"))
        make_subscriber("one@example.se", themes=("psykisk-halsa",))
        make_subscriber("other@example.se", themes=("barn-och-unga",))
        make_subscriber("none@example.se", themes=())
        for status in ("pending", "unsubscribed", "bounced"):
            make_subscriber(f"{status}@example.se", themes=("aldre",), status=status)
        sending.start_sending(issue_id, utcnow())
        assert sending.fan_out(issue_id, utcnow()) == 4
        db.session.commit()
        rows = db.session.execute(
            select(
                Subscriber.email,
                Delivery.status,
                Delivery.last_error,
                Delivery.attempts,
                Delivery.issue_id,
            ).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        ).all()
    assert sorted(rows) == [
        ("both@example.se", "queued", "", 0, issue_id),
        ("none@example.se", "skipped", sending.SKIPPED_NO_THEMES, 0, issue_id),
        ("one@example.se", "queued", "", 0, issue_id),
        ("other@example.se", "skipped", sending.SKIPPED_NO_THEMES, 0, issue_id),
    ]
