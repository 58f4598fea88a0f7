"""The worker loop: start due issues, fan out, claim batches, send, record.

Any number of workers may run against PostgreSQL; each claims its own rows. The
main thread owns the database session; sender threads (SMTP_CONNECTIONS of them)
each own one SMTP connection and only send bytes.
"""

from __future__ import annotations

import logging
import os
import queue as queue_module
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from newsletter.config import settings_of
from newsletter.errors import DomainError
from newsletter.extensions import db
from newsletter.mail import queue
from newsletter.mail.bounce_mailbox import MailboxDuty
from newsletter.mail.dkim import DKIMSigner, signer_for
from newsletter.mail.emails import (
    TemplateCache,
    build_transactional,
    envelope_sender,
    list_unsubscribe,
    message_id,
    subscriber_links,
)
from newsletter.mail.pythoncheck import require_safe_email_headers
from newsletter.mail.queue import Outcome, Queued, Result, RetryPolicy
from newsletter.mail.transport import (
    PermanentFailure,
    SMTPTransport,
    TransientFailure,
    Transport,
)
from newsletter.models import (
    Delivery,
    Issue,
    OutboundMessage,
    Subscriber,
    SubscriberStatus,
)
from newsletter.models import subscriber_theme as st
from newsletter.models.types import utcnow
from newsletter.services import bounces, sending, subscriptions

log = logging.getLogger("newsletter.worker")

TransportFactory = Callable[[], Transport]


def smtp_transport_factory(app: Flask) -> TransportFactory:
    """Return a factory of SMTP transports configured from the app."""
    config = settings_of(app)

    def factory() -> Transport:
        return SMTPTransport(
            host=config.smtp_host,
            port=config.smtp_port,
            security=config.smtp_security,
            username=config.smtp_username,
            password=config.smtp_password,
            timeout=config.smtp_timeout,
        )

    return factory


class RateLimiter:
    """Spaces sends to at most N per second and M per hour across sender threads."""

    def __init__(self, per_second: float, per_hour: int) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.per_hour = per_hour
        self.next_slot = 0.0
        self.recent: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self, stopping: threading.Event) -> bool:
        """Block until a send is allowed; return False if asked to stop meanwhile."""
        if not self.interval and not self.per_hour:
            return True
        while True:
            with self.lock:
                now = time.monotonic()
                while self.recent and self.recent[0] <= now - 3600:
                    self.recent.popleft()
                ready = max(self.next_slot, now)
                if self.per_hour and len(self.recent) >= self.per_hour:
                    ready = max(ready, self.recent[0] + 3600)
                if ready <= now:
                    self.next_slot = now + self.interval
                    if self.per_hour:
                        self.recent.append(now)
                    return True
            if stopping.wait(min(ready - now, 1.0)):
                return False


@dataclass(frozen=True)
class Job:
    """One message ready to go: bytes, envelope, and the row it belongs to."""

    row_id: int
    recipient: str
    message: bytes
    message_id: str
    sender: str  # the envelope sender (MAIL FROM): this row's VERP address
    subscriber_id: int | None = None


class SenderPool:
    """Sends jobs over N persistent connections and reports outcomes as they come."""

    def __init__(
        self,
        factory: TransportFactory,
        connections: int,
        limiter: RateLimiter,
        stopping: threading.Event,
    ) -> None:
        self.transports = [factory() for _ in range(max(1, connections))]
        self.limiter = limiter
        self.stopping = stopping

    def run(
        self, jobs: Sequence[Job], report: Callable[[Job, Outcome], None]
    ) -> list[Job]:
        """Send jobs; return those never attempted because the worker is stopping."""
        count = len(self.transports)
        chunks = [list(jobs[i::count]) for i in range(count)]
        unsent: list[Job] = []
        lock = threading.Lock()

        def work(
            transport: Transport,
            chunk: list[Job],
            emit: Callable[[Job, Outcome], None],
        ) -> None:
            for index, job in enumerate(chunk):
                if self.stopping.is_set() or not self.limiter.wait(self.stopping):
                    with lock:
                        unsent.extend(chunk[index:])
                    return
                emit(job, self._send(transport, job))

        if count == 1:
            # No thread hand-off for the common single-connection case.
            work(self.transports[0], chunks[0], report)
            return unsent
        results: queue_module.Queue[tuple[Job, Outcome] | None] = queue_module.Queue()

        def threaded(transport: Transport, chunk: list[Job]) -> None:
            try:
                work(transport, chunk, lambda job, outcome: results.put((job, outcome)))
            finally:
                results.put(None)

        threads = [
            threading.Thread(target=threaded, args=(t, c), daemon=True)
            for t, c in zip(self.transports, chunks, strict=True)
        ]
        for thread in threads:
            thread.start()
        finished = 0
        while finished < count:
            item = results.get()
            if item is None:
                finished += 1
            else:
                report(*item)
        for thread in threads:
            thread.join()
        return unsent

    @staticmethod
    def _send(transport: Transport, job: Job) -> Outcome:
        """Send one job and turn the result into an outcome."""
        try:
            transport.send(job.sender, job.recipient, job.message)
        except PermanentFailure as exc:
            return Outcome(job.row_id, Result.FAILED, job.message_id, exc.reply)
        except TransientFailure as exc:
            return Outcome(job.row_id, Result.RETRY, job.message_id, exc.reply)
        return Outcome(job.row_id, Result.SENT, job.message_id)

    def close(self) -> None:
        """Close every connection."""
        for transport in self.transports:
            transport.close()


class Worker:
    """One worker process: a loop over small, committed steps."""

    def __init__(
        self,
        app: Flask,
        transport_factory: TransportFactory | None = None,
        name: str | None = None,
    ) -> None:
        require_safe_email_headers()
        self.app = app
        config = settings_of(app)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.batch_size = config.worker_batch_size
        self.lease_seconds = config.worker_lease_seconds
        self.idle_seconds = config.worker_idle_seconds
        self.record_every = config.worker_record_every
        self.retry = RetryPolicy(
            max_attempts=config.max_attempts,
            backoff_base=config.retry_base_seconds,
            backoff_cap=config.retry_max_seconds,
        )
        self.stopping = threading.Event()
        self.templates = TemplateCache()
        self.last_purge: datetime | None = None
        self.bounce_mailbox = MailboxDuty.from_settings(config)
        self.signer: DKIMSigner | None = signer_for(app)
        self.pool = SenderPool(
            transport_factory or smtp_transport_factory(app),
            config.smtp_connections,
            RateLimiter(config.rate_per_second, config.rate_per_hour),
            self.stopping,
        )

    def stop(self, *_: Any) -> None:
        """Finish the message in flight, give the rest back, then exit the loop."""
        self.stopping.set()

    def run(self, once: bool = False) -> None:
        """Work until stopped; with once, until nothing is due."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        log.info("worker %s started", self.name)
        try:
            while not self.stopping.is_set():
                busy = self.tick()
                if once and not busy:
                    break
                if not busy:
                    self.stopping.wait(self.idle_seconds)
        finally:
            self.close()
            log.info("worker %s stopped", self.name)

    def close(self) -> None:
        """Close the SMTP connections."""
        self.pool.close()

    def tick(self) -> bool:
        """Do one round of every duty; return whether there was anything to do."""
        with self.app.app_context():
            try:
                busy = self._start_and_fan_out()
                busy = self._answer_link_requests() or busy
                busy = self._send_messages() or busy
                busy = self._send_deliveries() or busy
                now = utcnow()
                for issue_id in sending.finish_completed_issues(now):
                    log.info("issue %s is sent", issue_id)
                self._purge(now)
                db.session.commit()
                if self.bounce_mailbox is not None:
                    self.bounce_mailbox.poll_when_due(now)
                return busy
            finally:
                db.session.remove()

    def _purge(self, now: datetime) -> None:
        """Delete stale unconfirmed sign-ups, at most every ten minutes."""
        if self.last_purge and now - self.last_purge < timedelta(minutes=10):
            return
        self.last_purge = now
        purged = subscriptions.purge_unconfirmed(now)
        if purged:
            log.info("deleted %s sign-ups that were never confirmed", purged)

    def _start_and_fan_out(self) -> bool:
        """Start due scheduled issues and write delivery rows for new sends."""
        started = sending.start_due_issues(utcnow())
        db.session.commit()
        fanned = False
        for issue_id in sending.issues_to_fan_out():
            rows = sending.fan_out(issue_id, utcnow())
            db.session.commit()
            if rows is not None:
                log.info("issue %s: %s delivery rows written", issue_id, rows)
                fanned = True
        return bool(started) or fanned

    def _answer_link_requests(self) -> bool:
        """Queue the new confirmation links that visitors asked for."""
        answered = subscriptions.answer_link_requests(utcnow())
        db.session.commit()
        return answered > 0

    def _send_messages(self) -> bool:
        """Send a batch of transactional messages."""
        ids = queue.claim_messages(
            self.name, self.batch_size, self.lease_seconds, utcnow()
        )
        db.session.commit()
        if not ids:
            return False
        jobs, outcomes = [], []
        for message in db.session.scalars(
            select(OutboundMessage).where(OutboundMessage.id.in_(ids))
        ):
            try:
                raw = self._sign(build_transactional(message))
            except DomainError as exc:  # e.g. the draft of a test copy was deleted
                log.warning("message %s not sent: %s", message.id, exc)
                outcomes.append(
                    Outcome(message.id, Result.FAILED, None, f"not sent: {exc}")
                )
                continue
            except Exception as exc:  # noqa: BLE001 - a broken message must not stop the queue
                log.exception("message %s could not be built", message.id)
                outcomes.append(
                    Outcome(message.id, Result.FAILED, None, f"render: {exc}")
                )
                continue
            jobs.append(
                Job(
                    message.id,
                    message.to_address,
                    raw,
                    message_id("m", message.id),
                    sender=envelope_sender("m", message.id),
                )
            )
        self._deliver(OutboundMessage, jobs, outcomes)
        return True

    def _send_deliveries(self) -> bool:
        """Send a batch of issue deliveries."""
        ids = queue.claim_deliveries(
            self.name, self.batch_size, self.lease_seconds, utcnow()
        )
        db.session.commit()
        if not ids:
            return False
        jobs, outcomes = self._delivery_jobs(ids)
        self._deliver(Delivery, jobs, outcomes)
        return True

    def _delivery_jobs(self, ids: list[int]) -> tuple[list[Job], list[Outcome]]:
        """Turn claimed deliveries into jobs, skipping those who no longer want them."""
        rows = db.session.execute(
            select(
                Delivery.id,
                Delivery.issue_id,
                Subscriber.id,
                Subscriber.email,
                Subscriber.name,
                Subscriber.language,
                Subscriber.status,
                Subscriber.token_version,
            )
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
        ).all()
        themes: dict[int, set[int]] = {}
        for subscriber_id, theme_id in db.session.execute(
            select(st.c.subscriber_id, st.c.theme_id).where(
                st.c.subscriber_id.in_({row[2] for row in rows})
            )
        ):
            themes.setdefault(subscriber_id, set()).add(theme_id)
        issues = {i.id: i for i in db.session.scalars(
            select(Issue).where(Issue.id.in_({row[1] for row in rows}))
        )}  # fmt: skip
        issue_themes = {
            issue_id: {item.theme_id for item in issue.items}
            for issue_id, issue in issues.items()
        }
        jobs, outcomes = [], []
        for row_id, issue_id, sub_id, email, name, language, status, version in rows:
            issue = issues[issue_id]
            chosen = frozenset(themes.get(sub_id, ()))
            if status != SubscriberStatus.CONFIRMED:
                outcomes.append(
                    Outcome(row_id, Result.SKIPPED, error=f"subscriber {status}")
                )
                continue
            if not chosen & issue_themes[issue_id]:
                outcomes.append(
                    Outcome(row_id, Result.SKIPPED, error=sending.SKIPPED_NO_THEMES)
                )
                continue
            msg_id = message_id("d", row_id)
            template = self.templates.get(issue, chosen, language)
            try:
                links = subscriber_links(sub_id, version, email)
                raw = template.personalise(
                    to_address=email,
                    to_name=name,
                    message_id=msg_id,
                    date=utcnow(),
                    values=links,
                    headers={
                        "List-Unsubscribe": list_unsubscribe(links["unsubscribe_url"])
                    },
                )
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the rest
                log.exception("delivery %s could not be built", row_id)
                outcomes.append(Outcome(row_id, Result.FAILED, None, f"render: {exc}"))
                continue
            sender = envelope_sender("d", row_id)
            jobs.append(Job(row_id, email, self._sign(raw), msg_id, sender, sub_id))
        return jobs, outcomes

    def _sign(self, message: bytes) -> bytes:
        """DKIM-sign when configured."""
        return self.signer.sign(message) if self.signer else message

    def _deliver(
        self,
        model: type[Queued],
        jobs: list[Job],
        outcomes: list[Outcome],
    ) -> None:
        """Send jobs, recording outcomes in small committed groups as they arrive."""
        pending: list[Outcome] = list(outcomes)
        refused: list[tuple[int, str]] = []  # 5xx replies: bounces of this session

        def flush() -> None:
            if not pending:
                return
            queue.record(model, self.name, pending, utcnow(), self.retry)
            if refused:
                bounces.record_refusals(model, refused, utcnow())
            db.session.commit()
            pending.clear()
            refused.clear()

        def report(job: Job, outcome: Outcome) -> None:
            pending.append(outcome)
            if outcome.status == Result.FAILED:
                refused.append((job.row_id, outcome.error))
            if outcome.status != Result.SENT:
                log.warning("%s %s: %s", model.__tablename__, job.row_id, outcome.error)
            if len(pending) >= self.record_every:
                flush()

        flush()
        unsent = self.pool.run(jobs, report)
        flush()
        if unsent:
            queue.release(model, self.name, [job.row_id for job in unsent])
            db.session.commit()
