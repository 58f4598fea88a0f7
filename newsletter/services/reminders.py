"""Deadline reminders: each open contribution link hears once of each deadline.

The reminder row (unique per link and issue) is written in the same transaction as
the queued email, inside a savepoint of its own: when two workers remind at the
same time, the second insert fails on the unique constraint (on PostgreSQL it
waits for the first transaction and then fails) and that link is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError

from newsletter.extensions import db
from newsletter.models import (
    ContributionLink,
    ContributionReminder,
    Issue,
    OutboundMessage,
)
from newsletter.models.issue import EDITABLE
from newsletter.services import audit
from newsletter.services.plan import deadline_end, local_day

TEMPLATE = "contribution_reminder"
# The partner side of the newsletter is Swedish.
LANGUAGE = "sv"


@dataclass(frozen=True)
class Reminder:
    """One link to remind of one issue's deadline."""

    link: ContributionLink
    issue: Issue


def issues_near_deadline(now: datetime, days: int) -> list[Issue]:
    """Return the planned issues still being made whose deadline has not passed
    and falls within the next `days` days (Stockholm days)."""
    if days <= 0:
        return []
    today = local_day(now)
    candidates = db.session.scalars(
        select(Issue)
        .where(
            Issue.status.in_(EDITABLE),
            Issue.publish_on.is_not(None),
            Issue.contribution_deadline.between(today, today + timedelta(days=days)),
        )
        .order_by(Issue.contribution_deadline, Issue.id)
    )
    return [
        issue
        for issue in candidates
        if issue.contribution_deadline is not None
        and now < deadline_end(issue.contribution_deadline)
    ]


def due_reminders(now: datetime, days: int) -> list[Reminder]:
    """Return every open link not yet reminded of an issue whose deadline nears."""
    due: list[Reminder] = []
    for issue in issues_near_deadline(now, days):
        reminded = exists().where(
            ContributionReminder.link_id == ContributionLink.id,
            ContributionReminder.issue_id == issue.id,
        )
        links = db.session.scalars(
            select(ContributionLink)
            .where(
                ContributionLink.revoked_at.is_(None),
                or_(
                    ContributionLink.expires_at.is_(None),
                    ContributionLink.expires_at > now,
                ),
                ~reminded,
            )
            .order_by(ContributionLink.id)
        )
        due.extend(Reminder(link, issue) for link in links if link.is_open(now))
    return due


def send_reminders(
    now: datetime, days: int, actor: audit.Actor | None = None
) -> list[Reminder]:
    """Queue one reminder email per due link and issue; return those queued.

    A link another process reminded meanwhile is skipped. The caller commits.
    """
    queued: list[Reminder] = []
    for reminder in due_reminders(now, days):
        link, issue = reminder.link, reminder.issue
        try:
            with db.session.begin_nested():
                db.session.add(
                    ContributionReminder(
                        link_id=link.id, issue_id=issue.id, sent_at=now
                    )
                )
        except IntegrityError:
            continue  # reminded by another worker a moment ago
        db.session.add(
            OutboundMessage(
                template=TEMPLATE,
                context={"link_id": link.id, "issue_id": issue.id},
                language=LANGUAGE,
                to_address=link.contact_email,
                to_name=link.contact_name,
            )
        )
        audit.record(
            "contribution.reminded",
            "contribution_link",
            link.id,
            link.organisation,
            {"reminded_of_issue": [None, issue.id]},
            actor=actor,
            at=now,
        )
        queued.append(reminder)
    return queued
