"""The quarterly plan: when issues come out and until when partners may propose."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Issue
from newsletter.models.issue import EDITABLE

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local_day(moment: datetime) -> date:
    """Return the day in Stockholm of a UTC moment."""
    return moment.astimezone(STOCKHOLM).date()


def deadline_end(deadline: date) -> datetime:
    """Return the UTC moment a contribution deadline ends (midnight after it)."""
    midnight = datetime.combine(deadline + timedelta(days=1), time(), STOCKHOLM)
    return midnight.astimezone(ZoneInfo("UTC"))


def is_late(issue: Issue | None, now: datetime) -> bool:
    """Whether a proposal sent now for this issue comes after its deadline."""
    if issue is None or issue.contribution_deadline is None:
        return False
    return now >= deadline_end(issue.contribution_deadline)


def next_planned_issue(now: datetime) -> Issue | None:
    """Return the issue partners propose for now: the earliest planned issue
    that is still being made and not yet due, or None without a plan."""
    return db.session.scalar(
        select(Issue)
        .where(
            Issue.status.in_(EDITABLE),
            Issue.publish_on.is_not(None),
            Issue.publish_on >= local_day(now),
        )
        .order_by(Issue.publish_on, Issue.id)
        .limit(1)
    )
