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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from newsletter.config import settings_of
from newsletter.errors import DomainError
from newsletter.extensions import db
from newsletter.mail import queue
from newsletter.mail.dkim import DKIMSigner, signer_for
from newsletter.mail.emails import (
    TemplateCache,
    build_transactional,
    envelope_sender,
    list_unsubscribe,
    message_id,
    subscriber_links,
)
from newsletter.mail.pace import LeaseKeeper, Pace, Schedule, claim_limit
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
from newsletter.services import sending, subscriptions

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


@dataclass(frozen=True)
class Job:
    """One message ready to go: bytes, envelope, and the row it belongs to."""

    row_id: int
    recipient: str
    message: bytes
    message_id: str
    subscriber_id: int | None = None


class SenderPool:
    """Sends jobs over N persistent connections and reports outcomes as they come."""

    def __init__(
        self,
        factory: TransportFactory,
        connections: int,
        stopping: threading.Event,
    ) -> None:
        self.transports = [factory() for _ in range(max(1, connections))]
        self.stopping = stopping

    def run(
        self, sender: str, schedule: Schedule, report: Callable[[Job, Outcome], None]
    ) -> None:
        """Send the schedule's jobs as they may go; the rest stays in the schedule."""
        count = len(self.transports)

        def work(transport: Transport, emit: Callable[[Job, Outcome], None]) -> None:
            while (job := schedule.take()) is not None:
                emit(job, self._send(transport, sender, job))

        if count == 1:
            # No thread hand-off for the common single-connection case.
            work(self.transports[0], report)
            return
        results: queue_module.Queue[tuple[Job, Outcome] | None] = queue_module.Queue()

        def threaded(transport: Transport) -> None:
            try:
                work(transport, lambda job, outcome: results.put((job, outcome)))
            finally:
                results.put(None)

        threads = [
            threading.Thread(target=threaded, args=(t,), daemon=True)
            for t in self.transports
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

    @staticmethod
    def _send(transport: Transport, sender: str, job: Job) -> Outcome:
        """Send one job and turn the result into an outcome."""
        try:
            transport.send(sender, job.recipient, job.message)
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
        self.bounce_limit = config.bounce_limit
        self.stopping = threading.Event()
        self.templates = TemplateCache()
        self.last_purge: datetime | None = None
        self.signer: DKIMSigner | None = signer_for(app)
        self.pool = SenderPool(
            transport_factory or smtp_transport_factory(app),
            config.smtp_connections,
            self.stopping,
        )
        with app.app_context():
            self.engine = db.engine
        self.pace = Pace(
            self.engine,
            config.rate_per_second,
            config.rate_per_hour,
            config.domain_rates(),
        )
        self.claim_limit = claim_limit(
            self.batch_size,
            self.lease_seconds,
            config.rate_per_second,
            config.rate_per_hour,
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
        claimed_at = time.monotonic()
        ids = queue.claim_messages(
            self.name, self.claim_limit, self.lease_seconds, utcnow()
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
                Job(message.id, message.to_address, raw, message_id("m", message.id))
            )
        self._deliver(OutboundMessage, jobs, outcomes, claimed_at)
        return True

    def _send_deliveries(self) -> bool:
        """Send a batch of issue deliveries."""
        claimed_at = time.monotonic()
        ids = queue.claim_deliveries(
            self.name, self.claim_limit, self.lease_seconds, utcnow()
        )
        db.session.commit()
        if not ids:
            return False
        jobs, outcomes = self._delivery_jobs(ids)
        self._deliver(Delivery, jobs, outcomes, claimed_at)
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
            jobs.append(Job(row_id, email, self._sign(raw), msg_id, sub_id))
        return jobs, outcomes

    def _sign(self, message: bytes) -> bytes:
        """DKIM-sign when configured."""
        return self.signer.sign(message) if self.signer else message

    def _deliver(
        self,
        model: type[Queued],
        jobs: list[Job],
        outcomes: list[Outcome],
        claimed_at: float,
    ) -> None:
        """Send jobs, recording outcomes in small committed groups as they arrive,
        while the lease is renewed (claimed_at: time.monotonic() before the claim)."""
        pending: list[Outcome] = list(outcomes)
        bounced: list[int] = []
        by_row = {job.row_id: job for job in jobs}

        def flush() -> None:
            if not pending:
                return
            queue.record(model, self.name, pending, utcnow(), self.retry)
            if bounced:
                queue.record_hard_bounces(bounced, self.bounce_limit)
            db.session.commit()
            pending.clear()
            bounced.clear()

        def report(job: Job, outcome: Outcome) -> None:
            pending.append(outcome)
            subscriber_id = by_row[job.row_id].subscriber_id
            if outcome.status == Result.FAILED and subscriber_id:
                bounced.append(subscriber_id)
            if outcome.status != Result.SENT:
                log.warning("%s %s: %s", model.__tablename__, job.row_id, outcome.error)
            if len(pending) >= self.record_every:
                flush()

        flush()
        rows = [job.row_id for job in jobs]
        lease = LeaseKeeper(
            self.engine, model, self.name, rows, self.lease_seconds, claimed_at
        )
        schedule = Schedule(
            jobs,
            self.pace,
            lease,
            self.stopping,
            horizon=self.lease_seconds / 2,
            more_due=len(jobs) + len(outcomes) >= self.claim_limit,
        )
        with lease:
            self.pool.run(envelope_sender(), schedule, report)
        flush()
        unsent, deferred = schedule.leftovers()
        if unsent or deferred:
            queue.release(model, self.name, unsent)
            queue.defer(model, self.name, deferred)
            db.session.commit()
