"""Sending an issue: schedule, start, fan out to deliveries, pause, resume, cancel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Exists,
    Select,
    Subquery,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)

from newsletter.database import get_row, rows_changed
from newsletter.errors import InvalidState
from newsletter.extensions import db
from newsletter.mail import queue
from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    Item,
    OutboundMessage,
    Subscriber,
    SubscriberStatus,
    subscriber_theme,
)
from newsletter.models.states import DELIVERIES, ISSUES, Step, move
from newsletter.models.types import UTCDateTime
from newsletter.services import audit, review, search

SKIPPED_NO_THEMES = "none of the subscriber's themes has items in this issue"
SKIPPED_CANCELLED = "the issue was cancelled"

_I = IssueStatus
# The moves of an issue's send, each checked against the issue lifecycle.
START = ISSUES.step(_I.DRAFT, _I.SCHEDULED, to=_I.SENDING)
SCHEDULE = ISSUES.step(_I.DRAFT, _I.SCHEDULED, to=_I.SCHEDULED)
UNSCHEDULE = ISSUES.step(_I.SCHEDULED, to=_I.DRAFT)
PAUSE = ISSUES.step(_I.SENDING, to=_I.PAUSED)
RESUME = ISSUES.step(_I.PAUSED, to=_I.SENDING)
CANCEL = ISSUES.step(_I.SCHEDULED, _I.SENDING, _I.PAUSED, to=_I.CANCELLED)
START_DUE = ISSUES.step(_I.SCHEDULED, to=_I.SENDING)
FINISH = ISSUES.step(_I.SENDING, to=_I.SENT)
SEND_AGAIN = ISSUES.step(_I.SENT, to=_I.SENDING)
# Failed deliveries can be queued again while these last.
RETRYABLE = (_I.SENDING, _I.PAUSED, _I.SENT)

# A confirmed subscriber gets a row at fan-out: queued, or skipped when none of
# their themes has items in the issue.
FAN_OUT_QUEUED = DELIVERIES.step(to=DeliveryStatus.QUEUED)
FAN_OUT_SKIPPED = DELIVERIES.step(to=DeliveryStatus.SKIPPED)
# Deliveries that still need work: the issue is not sent while any is left.
UNFINISHED = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


class WrongState(InvalidState):
    """The issue is not in a state that allows this step."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Progress:
    """Delivery counts of one issue."""

    counts: dict[str, int]
    # False until the recipients are written (a scheduled issue, or one waiting
    # for a worker): nothing is done yet, whatever the empty counts say.
    started: bool = True

    @property
    def total(self) -> int:
        """All delivery rows."""
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        """Rows that need no more work."""
        return self.total - sum(self.counts[status] for status in UNFINISHED)

    @property
    def percent(self) -> int:
        """Share of rows done, 0-100 (100 for an empty fan-out, 0 before it); never
        100 while a row is left (499 left of 100,000 would round to 100)."""
        if not self.started:
            return 0
        if self.done == self.total:
            return 100
        return min(99, round(100 * self.done / self.total))


def _issue_themes(issue_id: int) -> Select[int]:
    """Select the ids of themes that have items in an issue."""
    return select(Item.theme_id).where(Item.issue_id == issue_id)


def _wants_this_issue(issue_id: int) -> Exists:
    """SQL: the subscriber chose at least one theme with items in the issue."""
    return exists().where(
        subscriber_theme.c.subscriber_id == Subscriber.id,
        subscriber_theme.c.theme_id.in_(_issue_themes(issue_id)),
    )


def recipient_count(issue_id: int) -> int:
    """Count confirmed subscribers who would receive the issue now."""
    return (
        db.session.scalar(
            select(func.count(Subscriber.id)).where(
                Subscriber.status == SubscriberStatus.CONFIRMED,
                _wants_this_issue(issue_id),
            )
        )
        or 0
    )


def _move(issue_id: int, step: Step[IssueStatus], action: str, **fields: Any) -> Issue:
    """Take an issue through one step of its lifecycle, setting fields, and
    record it in the audit trail as `action`."""
    issue = get_row(Issue, issue_id)
    if issue.status not in step.sources:
        raise WrongState(issue.status)
    before = {"status": issue.status, **{name: getattr(issue, name) for name in fields}}
    move(issue, step)
    for name, value in fields.items():
        setattr(issue, name, value)
    after = {"status": issue.status, **fields}
    audit.record(action, "issue", issue.id, issue.title, audit.changes(before, after))
    db.session.flush()
    return issue


def start_sending(issue_id: int, now: datetime) -> Issue:
    """Publish the issue and hand it to the workers, who fan out and send.

    Raises ApprovalMissing when the organisation requires an approval it lacks.
    """
    review.check_may_send(get_row(Issue, issue_id))
    issue = _move(
        issue_id, START, "issue.sending_started", scheduled_at=None, published_at=now
    )
    search.index_issue(issue_id)  # published now: the archive search finds it
    return issue


def schedule(issue_id: int, at: datetime) -> Issue:
    """Let the workers start sending at a given time (approved first, where the
    organisation requires it: ApprovalMissing otherwise)."""
    review.check_may_send(get_row(Issue, issue_id))
    return _move(issue_id, SCHEDULE, "issue.scheduled", scheduled_at=at)


def unschedule(issue_id: int) -> Issue:
    """Turn a scheduled issue back into a draft."""
    return _move(issue_id, UNSCHEDULE, "issue.unscheduled", scheduled_at=None)


def pause(issue_id: int) -> Issue:
    """Stop claiming this issue's deliveries; messages in flight still finish."""
    return _move(issue_id, PAUSE, "issue.paused")


def resume(issue_id: int) -> Issue:
    """Let the workers claim this issue's deliveries again."""
    return _move(issue_id, RESUME, "issue.resumed")


def cancel(issue_id: int, now: datetime) -> Issue:
    """Stop sending for good: what is still queued is skipped, sent stays sent.

    The issue records `now` as its last change: it leaves the archive then.
    """
    issue = _move(issue_id, CANCEL, "issue.cancelled", updated_at=now)
    queue.skip_queued(issue_id, SKIPPED_CANCELLED)
    db.session.flush()
    search.index_issue(issue_id)  # out of the archive, out of its search
    return issue


def retry_failed(issue_id: int, now: datetime) -> int:
    """Queue the failed deliveries of an issue again; return how many."""
    issue = get_row(Issue, issue_id)
    if issue.status not in RETRYABLE:
        raise WrongState(issue.status)
    before = issue.status
    count = queue.requeue_failed(issue_id, now)
    if count and issue.status == IssueStatus.SENT:
        move(issue, SEND_AGAIN)
        issue.sent_at = None
    audit.record(
        "issue.failed_requeued",
        "issue",
        issue.id,
        issue.title,
        {"status": [before, issue.status], "requeued": [0, count]},
    )
    db.session.flush()
    return count


def _wanting_subscribers(issue_id: int) -> Subquery:
    """The ids of subscribers who chose a theme with items in the issue, once each."""
    return (
        select(subscriber_theme.c.subscriber_id)
        .where(subscriber_theme.c.theme_id.in_(_issue_themes(issue_id)))
        .distinct()
        .subquery()
    )


def fan_out(issue_id: int, now: datetime) -> int | None:
    """Write one delivery row per confirmed subscriber in one set-based INSERT.

    Returns the number of rows written, or None when another worker already did it.
    The claim (fanned_out_at) and the rows commit together: either every recipient
    has a row or none has, so the INSERT never meets an existing row (and the
    unique (issue, subscriber) constraint would refuse one).
    """
    claimed = rows_changed(
        update(Issue)
        .where(
            Issue.id == issue_id,
            Issue.status == IssueStatus.SENDING,
            Issue.fanned_out_at.is_(None),
        )
        .values(fanned_out_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed != 1:
        return None
    # One join computes who wants the issue; a condition per row (EXISTS in each
    # CASE) ran a subquery twice for every subscriber.
    wanting = _wanting_subscribers(issue_id)
    wants = wanting.c.subscriber_id.is_not(None)
    rows = (
        select(
            literal(issue_id),
            Subscriber.id,
            case(
                (wants, literal(FAN_OUT_QUEUED.target, Delivery.status.type)),
                else_=literal(FAN_OUT_SKIPPED.target, Delivery.status.type),
            ),
            case((wants, ""), else_=SKIPPED_NO_THEMES),
            literal(0),
            literal(now, UTCDateTime()),
        )
        .outerjoin(wanting, wanting.c.subscriber_id == Subscriber.id)
        .where(Subscriber.status == SubscriberStatus.CONFIRMED)
    )
    statement = insert(Delivery).from_select(
        [
            "issue_id",
            "subscriber_id",
            "status",
            "last_error",
            "attempts",
            "next_attempt_at",
        ],
        rows,
    )
    db.session.execute(statement)
    # Counted rather than taken from rowcount, which psycopg leaves at -1 here.
    return (
        db.session.scalar(
            select(func.count(Delivery.id)).where(Delivery.issue_id == issue_id)
        )
        or 0
    )


def issues_to_fan_out() -> list[int]:
    """Return issues that are sending but have no delivery rows yet."""
    return list(
        db.session.scalars(
            select(Issue.id).where(
                Issue.status == IssueStatus.SENDING, Issue.fanned_out_at.is_(None)
            )
        )
    )


def start_due_issues(now: datetime) -> list[int]:
    """Start every scheduled issue whose time has come; return their ids."""
    due = list(
        db.session.scalars(
            select(Issue.id).where(
                Issue.status == START_DUE.source, Issue.scheduled_at <= now
            )
        )
    )
    started_ids = []
    for issue_id in due:
        refusal = review.may_send(get_row(Issue, issue_id))
        if refusal is not None:
            # Approval became required after it was scheduled: it waits as a
            # draft for a publisher rather than going out unapproved.
            review.unschedule_unapproved(issue_id, refusal)
            continue
        started_ids.append(issue_id)
        started = db.session.execute(
            update(Issue)
            .where(Issue.id == issue_id, Issue.status == START_DUE.source)
            .values(status=START_DUE.target, published_at=now, scheduled_at=None)
            .returning(Issue.title)
        ).scalar()
        if started is not None:
            search.index_issue(issue_id)
            audit.record(
                "issue.sending_started",
                "issue",
                issue_id,
                started,
                {"status": [START_DUE.source, START_DUE.target]},
                actor=audit.WORKER,
            )
    return started_ids


def finish_completed_issues(now: datetime) -> list[int]:
    """Mark issues sent once none of their deliveries is queued or in flight."""
    open_rows = exists().where(
        Delivery.issue_id == Issue.id, Delivery.status.in_(UNFINISHED)
    )
    done = list(
        db.session.scalars(
            select(Issue.id).where(
                Issue.status == FINISH.source,
                Issue.fanned_out_at.is_not(None),
                ~open_rows,
            )
        )
    )
    if done:
        db.session.execute(
            update(Issue)
            .where(Issue.id.in_(done), Issue.status == FINISH.source)
            .values(status=FINISH.target, sent_at=now)
        )
        for issue_id, title in db.session.execute(
            select(Issue.id, Issue.title).where(Issue.id.in_(done))
        ):
            audit.record(
                "issue.sent",
                "issue",
                issue_id,
                title,
                {"status": [FINISH.source, FINISH.target]},
                actor=audit.WORKER,
            )
    return done


def progress(issue_id: int) -> Progress:
    """Count an issue's deliveries by status."""
    started = db.session.scalar(
        select(Issue.fanned_out_at.is_not(None)).where(Issue.id == issue_id)
    )
    counts: dict[str, int] = dict.fromkeys(DeliveryStatus, 0)
    rows = db.session.execute(
        select(Delivery.status, func.count(Delivery.id))
        .where(Delivery.issue_id == issue_id)
        .group_by(Delivery.status)
    )
    counts.update({status: n for status, n in rows})
    return Progress(counts, started=bool(started))


def failures(issue_id: int, limit: int = 200) -> list[tuple[str, int, str]]:
    """Return (address, attempts, server reply) of failed deliveries."""
    rows = db.session.execute(
        select(Subscriber.email, Delivery.attempts, Delivery.last_error)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.issue_id == issue_id, Delivery.status == DeliveryStatus.FAILED)
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [(email, attempts, error) for email, attempts, error in rows]


def queue_test_send(
    issue_id: int, addresses: Iterable[str], language: str, own_address: str = ""
) -> int:
    """Queue a test copy of the issue (every theme) to each address.

    Only the editor's own address may get one before a required approval
    (ApprovalMissing otherwise).
    """
    issue = get_row(Issue, issue_id)
    addresses = list(addresses)
    if any(a.casefold() != own_address.casefold() for a in addresses):
        review.check_may_send(issue)
    count = 0
    sent_to = []
    for address in addresses:
        sent_to.append(address)
        db.session.add(
            OutboundMessage(
                template="issue_test",
                context={"issue_id": issue_id},
                language=language,
                to_address=address,
            )
        )
        count += 1
    audit.record(
        "issue.test_sent",
        "issue",
        issue.id,
        issue.title,
        {"to": [None, ", ".join(sent_to)]},
    )
    db.session.flush()
    return count
