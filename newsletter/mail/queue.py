"""The database is the queue: claim due rows with a lease, then record outcomes.

Every status change of a Delivery or an OutboundMessage happens here, guarded by the
row's current status (and, once claimed, by the claiming worker's id). Each change
is a Step of the row's lifecycle (newsletter.models.states), declared below.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Update, and_, bindparam, or_, select, update

from newsletter.database import rows_changed
from newsletter.extensions import db
from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    MessageStatus,
    OutboundMessage,
)
from newsletter.models.states import DELIVERIES, MESSAGES, Step, move
from newsletter.models.types import UTCDateTime, table_of

# The two queued kinds of row; each function below works on either.
Queued = TypeVar("Queued", Delivery, OutboundMessage)
State = TypeVar("State", bound=StrEnum)


class Result(StrEnum):
    """What became of one claimed row's message."""

    SENT = "sent"
    RETRY = "retry"  # a transient failure: queued again, unless out of attempts
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed row."""

    row_id: int
    status: Result
    message_id: str | None = None
    error: str = ""


@dataclass(frozen=True)
class QueueSteps(Generic[State]):
    """The moves the queue makes on the rows of one table."""

    claim: Step[State]  # a due row, leased to a worker
    reclaim: Step[State]  # a leased row whose lease ran out, leased anew
    sent: Step[State]
    retry: Step[State]  # a transient failure, or a claim given back at shutdown
    failed: Step[State]
    skipped: Step[State] | None  # the subscriber no longer wants it


_D = DeliveryStatus
_M = MessageStatus
STEPS: dict[type[Delivery] | type[OutboundMessage], QueueSteps[Any]] = {
    Delivery: QueueSteps(
        claim=DELIVERIES.step(_D.QUEUED, to=_D.SENDING),
        reclaim=DELIVERIES.step(_D.SENDING, to=_D.SENDING),
        sent=DELIVERIES.step(_D.SENDING, to=_D.SENT),
        retry=DELIVERIES.step(_D.SENDING, to=_D.QUEUED),
        failed=DELIVERIES.step(_D.SENDING, to=_D.FAILED),
        skipped=DELIVERIES.step(_D.SENDING, to=_D.SKIPPED),
    ),
    OutboundMessage: QueueSteps(
        claim=MESSAGES.step(_M.QUEUED, to=_M.SENDING),
        reclaim=MESSAGES.step(_M.SENDING, to=_M.SENDING),
        sent=MESSAGES.step(_M.SENDING, to=_M.SENT),
        retry=MESSAGES.step(_M.SENDING, to=_M.QUEUED),
        failed=MESSAGES.step(_M.SENDING, to=_M.FAILED),
        skipped=None,
    ),
}
# Moves of all of an issue's deliveries at once, asked for by the sending service.
SKIP_QUEUED = DELIVERIES.step(_D.QUEUED, to=_D.SKIPPED)
REQUEUE_FAILED = DELIVERIES.step(_D.FAILED, to=_D.QUEUED)


def _claimable(model: type[Queued], now: datetime) -> ColumnElement[bool]:
    """SQL: due queued rows, or rows whose worker's lease ran out."""
    steps = STEPS[model]
    return or_(
        and_(model.status == steps.claim.source, model.next_attempt_at <= now),
        and_(model.status == steps.reclaim.source, model.lease_expires_at < now),
    )


def _claim(
    model: type[Queued],
    condition: ColumnElement[bool],
    worker: str,
    limit: int,
    lease_seconds: float,
    now: datetime,
) -> list[int]:
    """Lease up to `limit` rows to this worker in one statement and return their ids."""
    candidates = select(model.id).where(condition).order_by(model.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        # Lock the rows first: an IN (... LIMIT ... SKIP LOCKED) sub-select inside
        # the UPDATE may be re-run by the planner and claim more than `limit`.
        ids = list(db.session.scalars(candidates.with_for_update(skip_locked=True)))
        if not ids:
            return []
        chosen = model.id.in_(ids)
    else:
        # SQLite runs the sub-select and the UPDATE as one write transaction: two
        # workers can never claim the same row, they only take turns.
        chosen = model.id.in_(candidates.scalar_subquery())
    statement = (
        update(model)
        .where(chosen, condition)
        .values(
            # Claimed and reclaimed rows alike end up leased (the same target).
            status=STEPS[model].claim.target,
            leased_by=worker,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=model.attempts + 1,
        )
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(db.session.scalars(statement))


def claim_deliveries(
    worker: str, limit: int, lease_seconds: float, now: datetime
) -> list[int]:
    """Lease due deliveries of issues that are sending (not paused or cancelled)."""
    sending = (
        select(Issue.id).where(Issue.status == IssueStatus.SENDING).scalar_subquery()
    )
    condition = and_(_claimable(Delivery, now), Delivery.issue_id.in_(sending))
    return _claim(Delivery, condition, worker, limit, lease_seconds, now)


def claim_messages(
    worker: str, limit: int, lease_seconds: float, now: datetime
) -> list[int]:
    """Lease due transactional messages."""
    condition = _claimable(OutboundMessage, now)
    return _claim(OutboundMessage, condition, worker, limit, lease_seconds, now)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long apart a temporarily failing row is tried again."""

    max_attempts: int
    backoff_base: float  # seconds before the second attempt
    backoff_cap: float  # the longest wait, in seconds

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with jitter: base, 2*base, 4*base ... up to cap."""
        delay = min(self.backoff_cap, self.backoff_base * (2 ** max(0, attempts - 1)))
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))


def record(
    model: type[Queued],
    worker: str,
    outcomes: Sequence[Outcome],
    now: datetime,
    retry: RetryPolicy,
) -> None:
    """Write the outcomes of claimed rows; rows no longer leased to us are left be."""
    steps = STEPS[model]
    sent = [o for o in outcomes if o.status == Result.SENT]
    if sent:
        table = table_of(model)
        # One executemany UPDATE for the whole group of accepted messages.
        db.session.connection().execute(
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                table.c.status == steps.sent.source,
                table.c.leased_by == worker,
            )
            .values(
                status=steps.sent.target,
                sent_at=bindparam("b_sent_at", type_=UTCDateTime()),
                message_id=bindparam("b_message_id"),
                last_error="",
                lease_expires_at=None,
                leased_by=None,
            ),
            [
                {"b_id": o.row_id, "b_message_id": o.message_id, "b_sent_at": now}
                for o in sent
            ],
        )
    for outcome in outcomes:
        if outcome.status == Result.SENT:
            continue
        row = db.session.get(model, outcome.row_id, populate_existing=True)
        if row is None or row.status != steps.claim.target or row.leased_by != worker:
            continue
        row.lease_expires_at = None
        row.leased_by = None
        row.last_error = outcome.error[:2000]
        if outcome.status == Result.RETRY and row.attempts < retry.max_attempts:
            move(row, steps.retry)
            row.next_attempt_at = now + retry.backoff(row.attempts)
        elif outcome.status == Result.SKIPPED and steps.skipped is not None:
            move(row, steps.skipped)
        else:
            move(row, steps.failed)
    db.session.flush()


def release(model: type[Queued], worker: str, row_ids: Sequence[int]) -> None:
    """Give claimed rows back untouched (on shutdown), undoing the claim's attempt."""
    if not row_ids:
        return
    retry = STEPS[model].retry
    db.session.execute(
        update(model)
        .where(
            model.id.in_(row_ids),
            model.status == retry.source,
            model.leased_by == worker,
        )
        .values(
            status=retry.target,
            leased_by=None,
            lease_expires_at=None,
            attempts=model.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )


def defer(
    model: type[Queued], worker: str, due: Sequence[tuple[int, datetime]]
) -> None:
    """Give claimed rows back untouched, each due again at its time (when a rate
    limit allows it), undoing the claim's attempt."""
    if not due:
        return
    retry = STEPS[model].retry
    table = table_of(model)
    db.session.connection().execute(
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.status == retry.source,
            table.c.leased_by == worker,
        )
        .values(
            status=retry.target,
            leased_by=None,
            lease_expires_at=None,
            attempts=table.c.attempts - 1,
            next_attempt_at=bindparam("b_due", type_=UTCDateTime()),
        ),
        [{"b_id": row_id, "b_due": when} for row_id, when in due],
    )


def renewal(
    model: type[Queued], worker: str, row_ids: Sequence[int], until: datetime
) -> Update:
    """Return the UPDATE that extends this worker's lease on those of the rows it
    still holds to `until`, RETURNING their ids: one statement renews and tells."""
    leased = STEPS[model].claim.target
    # SKIP LOCKED: a row locked right now is being recorded by this worker or
    # reclaimed by another; either way it is no longer to be sent, and waiting for
    # it could deadlock against the recording transaction.
    ours = (
        select(model.id)
        .where(
            model.id.in_(row_ids),
            model.status == leased,
            model.leased_by == worker,
        )
        .with_for_update(skip_locked=True)
    )
    return (
        update(model)
        .where(model.id.in_(ours.scalar_subquery()))
        .values(lease_expires_at=until)
        .returning(model.id)
    )


def skip_queued(issue_id: int, reason: str) -> int:
    """Skip an issue's deliveries that are still queued; return how many."""
    return rows_changed(
        update(Delivery)
        .where(
            Delivery.issue_id == issue_id,
            Delivery.status == SKIP_QUEUED.source,
        )
        .values(status=SKIP_QUEUED.target, last_error=reason)
    )


def requeue_failed(issue_id: int, now: datetime) -> int:
    """Queue an issue's failed deliveries again, due now with fresh attempts;
    return how many."""
    return rows_changed(
        update(Delivery)
        .where(
            Delivery.issue_id == issue_id,
            Delivery.status == REQUEUE_FAILED.source,
        )
        .values(
            status=REQUEUE_FAILED.target,
            attempts=0,
            next_attempt_at=now,
            last_error="",
        )
    )
