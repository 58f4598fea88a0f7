"""Workers seen and missed: heartbeats, and whether mail waits for a worker."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, update

from newsletter.database import rows_changed
from newsletter.extensions import db
from newsletter.models import (
    Issue,
    IssueStatus,
    MessageStatus,
    OutboundMessage,
    WorkerHeartbeat,
)

# Editors are told when mail waits and no worker has been seen for this long.
MISSING_AFTER = timedelta(minutes=2)
# Heartbeats of workers gone for this long are deleted.
FORGET_AFTER = timedelta(days=1)
# Queued transactional messages and retries both wait for a worker.
WAITING_MESSAGES = (MessageStatus.QUEUED, MessageStatus.SENDING)


def record_heartbeat(
    name: str, hostname: str, pid: int, started_at: datetime, now: datetime
) -> None:
    """Note that a worker is alive now, and forget workers gone for a day."""
    seen = rows_changed(
        update(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .values(hostname=hostname, pid=pid, started_at=started_at, last_seen_at=now)
    )
    if not seen:
        db.session.add(
            WorkerHeartbeat(
                name=name,
                hostname=hostname,
                pid=pid,
                started_at=started_at,
                last_seen_at=now,
            )
        )
    db.session.execute(
        delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen_at < now - FORGET_AFTER)
    )
    db.session.flush()


def last_seen() -> datetime | None:
    """Return when any worker was last seen, or None if none ever was."""
    return db.session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))


def mail_is_waiting(now: datetime) -> bool:
    """Tell whether something needs a worker: an issue that is sending, a scheduled
    issue whose time has come, or a transactional message in the queue."""
    return bool(
        db.session.scalar(
            select(
                or_(
                    exists().where(Issue.status == IssueStatus.SENDING),
                    exists().where(
                        Issue.status == IssueStatus.SCHEDULED,
                        Issue.scheduled_at <= now,
                    ),
                    exists().where(OutboundMessage.status.in_(WAITING_MESSAGES)),
                )
            )
        )
    )


def worker_missing(now: datetime) -> bool:
    """Tell whether mail waits while no worker has been seen for two minutes."""
    seen = last_seen()
    if seen is not None and now - seen < MISSING_AFTER:
        return False  # the common case costs one indexed query
    return mail_is_waiting(now)
