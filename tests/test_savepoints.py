"""A savepoint on SQLite is part of the request's transaction, never a commit of
its own: a rollback after it leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import ContributionLink, ContributionReminder, Issue
from newsletter.services import plan, reminders
from newsletter.services.contributor_links import set_token
from tests.factories import make_issue

# The app's own engine, as in production: the shared test schema begins its
# transactions explicitly and would hide the difference.
pytestmark = pytest.mark.real_commits


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_rolled_back_year_plan_leaves_no_issue(sqlite_app):
    with sqlite_app.app_context():
        plan.create_year_plan(2031, (3, 6, 9, 12), plan.DEFAULT_PATTERN, 15, 21, "Eva")
        db.session.rollback()
        assert _count(Issue) == 0
        made = plan.create_year_plan(2031, (3,), plan.DEFAULT_PATTERN, 15, 21, "Eva")
        db.session.commit()
        assert [i.title for i in made.created] == ["Nyhetsbrev mars 2031"]
        assert _count(Issue) == 1


def test_rolled_back_reminders_are_all_sent_by_the_next_round(sqlite_app):
    now = datetime(2027, 2, 10, 9, 0, tzinfo=UTC)
    with sqlite_app.app_context():
        make_issue(
            "Nyhetsbrev mars 2027",
            publish_on=date(2027, 3, 5),
            contribution_deadline=date(2027, 2, 13),
        )
        for name in ("Norra kommunen", "Södra kommunen"):
            link = ContributionLink(organisation=name, contact_email="k@example.se")
            set_token(link)
            db.session.add(link)
        db.session.commit()
        assert len(reminders.send_reminders(now, 7)) == 2
        db.session.rollback()
        assert _count(ContributionReminder) == 0
        assert len(reminders.due_reminders(now, 7)) == 2
