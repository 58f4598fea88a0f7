"""The worker loop: start due issues, fan out, claim batches, send, record.

Any number of workers may run against PostgreSQL; each claims its own rows. The
main thread owns the database session; sender threads (SMTP_CONNECTIONS of them)
each own one SMTP connection and only send bytes.

A worker never gives up: when the database or the SMTP server cannot be reached, or a
round fails for any other reason, it logs that once, waits (1 s, 2 s, 4 s ... up to
WORKER_MAX_BACKOFF_SECONDS) and tries again; only SIGTERM or SIGINT end it. Outcomes
of messages the SMTP server accepted are kept until they can be written.
"""

from __future__ import annotations

import logging
import os
import queue as queue_module
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from newsletter.config import settings_of
from newsletter.database import is_database_outage
from newsletter.errors import DomainError
from newsletter.extensions import db
from newsletter.link_checker import LinkCheckDuty
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
from newsletter.mail.pace import LeaseKeeper, Pace, Schedule, claim_limit
from newsletter.mail.pythoncheck import require_safe_email_headers
from newsletter.mail.queue import Outcome, Queued, Result, RetryPolicy
from newsletter.mail.transport import (
    PermanentFailure,
    ServerUnreachable,
    SMTPTransport,
    TransientFailure,
    Transport,
)
from newsletter.media_purge import MediaPurgeDuty
from newsletter.models import (
    Delivery,
    Issue,
    OutboundMessage,
    Subscriber,
    SubscriberStatus,
)
from newsletter.models import subscriber_theme as st
from newsletter.models.types import utcnow
from newsletter.pdf_editions import PdfDuty
from newsletter.planning import ReminderDuty
from newsletter.services import bounces, sending, subscriptions, workers

log = logging.getLogger("newsletter.worker")

# A worker notes that it is alive at most this often (seconds).
HEARTBEAT_SECONDS = 10.0

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
    sender: str  # the envelope sender (MAIL FROM): this row's VERP address
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
        # Set to stop sending for this run: the server is unreachable, or outcomes
        # cannot be recorded. What was not sent yet is given back.
        self.halt = threading.Event()
        self.unreachable: ServerUnreachable | None = None

    def run(self, schedule: Schedule, report: Callable[[Job, Outcome], None]) -> None:
        """Send the schedule's jobs as they may go; the rest stays in the schedule
        (also when the server cannot be reached or the pool is halted)."""
        self.halt.clear()
        self.unreachable = None
        count = len(self.transports)

        def work(transport: Transport, emit: Callable[[Job, Outcome], None]) -> None:
            while not self.halt.is_set() and (job := schedule.take()) is not None:
                if self.halt.is_set():  # halted while this thread waited for a slot
                    schedule.give_back(job)
                    return
                try:
                    outcome = self._send(transport, job)
                except ServerUnreachable as exc:
                    # Nothing left: this job and the rest go back untouched.
                    self.unreachable = exc
                    self.halt.set()
                    schedule.give_back(job)
                    return
                except Exception as exc:  # noqa: BLE001 - one bad row must not stop or leak
                    log.exception("%s could not be sent", job.message_id)
                    outcome = Outcome(job.row_id, Result.FAILED, None, f"send: {exc}")
                emit(job, outcome)

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
        try:
            while finished < count:
                item = results.get()
                if item is None:
                    finished += 1
                else:
                    report(*item)
        finally:
            # Should reporting fail, no sender thread outlives this run.
            self.halt.set()
            for thread in threads:
                thread.join()

    @staticmethod
    def _send(transport: Transport, job: Job) -> Outcome:
        """Send one job and turn the result into an outcome."""
        try:
            transport.send(job.sender, job.recipient, job.message)
        except ServerUnreachable:
            raise  # says nothing about this recipient: no attempt is counted
        except PermanentFailure as exc:
            return Outcome(job.row_id, Result.FAILED, job.message_id, exc.reply)
        except TransientFailure as exc:
            return Outcome(job.row_id, Result.RETRY, job.message_id, exc.reply)
        return Outcome(job.row_id, Result.SENT, job.message_id)

    def check_reachable(self) -> None:
        """Raise ServerUnreachable if the last run could not connect."""
        if self.unreachable is not None:
            raise ServerUnreachable(self.unreachable.reply)

    def close(self) -> None:
        """Close every connection."""
        for transport in self.transports:
            transport.close()


class Ledger:
    """Outcomes and given-back claims not yet written to the database.

    They stay here while the database cannot be reached and are written once it can:
    a message the SMTP server accepted is recorded as sent, so it is not sent again.
    """

    def __init__(self, worker: str, retry: RetryPolicy) -> None:
        self.worker = worker
        self.retry = retry
        # Keyed by model (Delivery or OutboundMessage).
        self.outcomes: dict[Any, list[Outcome]] = {}
        self.released: dict[Any, list[int]] = {}
        self.deferred: dict[Any, list[tuple[int, datetime]]] = {}
        # 5xx replies met in our own SMTP sessions: bounces, like a later DSN.
        self.refused: dict[Any, list[tuple[int, str]]] = {}
        self.failure: Exception | None = None

    def __len__(self) -> int:
        return sum(len(outcomes) for outcomes in self.outcomes.values())

    def add(
        self, model: type[Queued], outcome: Outcome, answered: bool = False
    ) -> None:
        """Keep an outcome; a failure the SMTP server answered (a 5xx refusal) is
        also kept as a bounce to record."""
        self.outcomes.setdefault(model, []).append(outcome)
        if answered and outcome.status == Result.FAILED:
            self.refused.setdefault(model, []).append((outcome.row_id, outcome.error))

    def release(self, model: type[Queued], row_ids: Sequence[int]) -> None:
        """Keep claimed rows to give back untouched."""
        if row_ids:
            self.released.setdefault(model, []).extend(row_ids)

    def defer(self, model: type[Queued], due: Sequence[tuple[int, datetime]]) -> None:
        """Keep claimed rows to give back, each due again at its time."""
        if due:
            self.deferred.setdefault(model, []).extend(due)

    def write(self) -> bool:
        """Write and commit everything kept; on failure keep it and return False."""
        if not (self.outcomes or self.released or self.deferred):
            return True
        now = utcnow()
        try:
            for model, outcomes in self.outcomes.items():
                queue.record(model, self.worker, outcomes, now, self.retry)
            for model, refusals in self.refused.items():
                bounces.record_refusals(model, refusals, now)
            for model, row_ids in self.released.items():
                queue.release(model, self.worker, row_ids)
            for model, due in self.deferred.items():
                queue.defer(model, self.worker, due)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - kept, and raised by write_or_raise
            self.failure = exc
            discard_session()
            return False
        self.outcomes.clear()
        self.released.clear()
        self.deferred.clear()
        self.refused.clear()
        self.failure = None
        return True

    def write_or_raise(self) -> None:
        """Write everything kept, or raise why it cannot be written."""
        if not self.write() and self.failure is not None:
            raise self.failure


def discard_session() -> None:
    """Roll back and drop the session after a failure; the pool reconnects later."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection cannot roll back
        log.debug("rollback failed", exc_info=True)
    db.session.remove()


class Outage:
    """A stretch of failed rounds: logged when it starts and when it ends, retried
    after 1 s, 2 s, 4 s ... up to a cap."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.failures = 0
        self.began = 0.0
        self.what = ""

    def failed(self, error: Exception) -> float:
        """Log a failed round if it is news; return how long to wait before the next."""
        if not self.failures:
            self.began = time.monotonic()
        self.failures += 1
        delay = min(self.cap, 2.0 ** min(self.failures - 1, 16))
        what = _what_failed(error)
        if what is None:
            # Not an outage: a fault of ours or the data's; the trace says where.
            what = "an error"
            log.error("a round failed; retrying in %g s", delay, exc_info=error)
        elif what != self.what:
            reason = (str(error).splitlines() or [""])[0][:300]
            log.warning(
                "%s cannot be reached: %s; retrying with pauses of up to %g s",
                what,
                reason,
                self.cap,
            )
        self.what = what
        return delay

    def over(self) -> None:
        """Log the end of an outage, if there was one."""
        if not self.failures:
            return
        log.warning(
            "%s is back after %.0f s and %d failed rounds; going on",
            "the worker" if self.what == "an error" else self.what,
            time.monotonic() - self.began,
            self.failures,
        )
        self.failures = 0
        self.what = ""


def _what_failed(error: Exception) -> str | None:
    """Name what could not be reached, or None for any other error."""
    if is_database_outage(error):
        return "the database"
    if isinstance(error, ServerUnreachable):
        return "the mail server"
    return None


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
        self.link_checks = LinkCheckDuty.from_settings(config)
        self.reminders = ReminderDuty.from_settings(config)
        self.pdf_editions = PdfDuty.from_settings(config)
        self.media_purge = MediaPurgeDuty.from_settings(config)
        # While the worker runs, links are checked in a thread of their own, so that a
        # slow web server never holds up mail; tick() alone checks them itself.
        self.link_thread: threading.Thread | None = None
        # PDF editions too: a build takes a second or more of WeasyPrint.
        self.pdf_thread: threading.Thread | None = None
        self.signer: DKIMSigner | None = signer_for(app)
        self.pool = SenderPool(
            transport_factory or smtp_transport_factory(app),
            config.smtp_connections,
            self.stopping,
        )
        self.ledger = Ledger(self.name, self.retry)
        self.outage = Outage(config.worker_max_backoff_seconds)
        # After a failed round, rows may still be leased to us that were never sent.
        self.may_hold_claims = False
        self.started_at = utcnow()
        self.next_heartbeat = 0.0
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
        if self.link_checks is not None and not once:
            self.link_thread = threading.Thread(
                target=self._check_links, name="link-checks", daemon=True
            )
            self.link_thread.start()
        if self.pdf_editions is not None and not once:
            self.pdf_thread = threading.Thread(
                target=self._build_pdfs, name="pdf-editions", daemon=True
            )
            self.pdf_thread.start()
        try:
            while not self.stopping.is_set():
                self.heartbeat()
                try:
                    busy = self.tick()
                except Exception as exc:  # noqa: BLE001 - a worker never gives up
                    if once:
                        raise
                    self.may_hold_claims = True
                    self.stopping.wait(self.outage.failed(exc))
                    continue
                self.outage.over()
                if once and not busy:
                    break
                if not busy:
                    self.stopping.wait(self.idle_seconds)
        finally:
            self._settle()
            self.close()
            log.info("worker %s stopped", self.name)

    def close(self) -> None:
        """Close the SMTP connections."""
        self.pool.close()

    def _settle(self) -> None:
        """Before stopping, try once more to write what an outage left unwritten."""
        ledger = self.ledger
        if not (
            len(ledger) or ledger.released or ledger.deferred or self.may_hold_claims
        ):
            return
        with self.app.app_context():
            try:
                self.ledger.write_or_raise()
                if self.may_hold_claims:
                    self._give_back_claims()
            except Exception as exc:  # noqa: BLE001 - stopping anyway
                log.warning(
                    "stopping with %d outcomes unwritten (%s); those rows are sent "
                    "again once their lease runs out",
                    len(self.ledger),
                    (str(exc).splitlines() or [""])[0][:300],
                )
            finally:
                db.session.remove()

    def heartbeat(self) -> None:
        """Note that this worker is alive, at most every HEARTBEAT_SECONDS, in a
        transaction of its own; a failure is logged and never stops sending."""
        now = time.monotonic()
        if now < self.next_heartbeat:
            return
        self.next_heartbeat = now + HEARTBEAT_SECONDS
        with self.app.app_context():
            try:
                workers.record_heartbeat(
                    self.name,
                    socket.gethostname(),
                    os.getpid(),
                    self.started_at,
                    utcnow(),
                )
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the heartbeat is only a sign
                log.debug("heartbeat not written: %s", exc)
                discard_session()

    def tick(self) -> bool:
        """Do one round of every duty; return whether there was anything to do."""
        with self.app.app_context():
            try:
                self.ledger.write_or_raise()  # what an outage left unwritten
                if self.may_hold_claims:
                    self._give_back_claims()
                busy = self._start_and_fan_out()
                busy = self._answer_link_requests() or busy
                busy = self._send_messages() or busy
                if not self.stopping.is_set():  # no new batch only to give it back
                    busy = self._send_deliveries() or busy
                now = utcnow()
                for issue_id in sending.finish_completed_issues(now):
                    log.info("issue %s is sent", issue_id)
                self._purge(now)
                db.session.commit()
                if self.bounce_mailbox is not None:
                    self.bounce_mailbox.poll_when_due(now)
                if self.link_checks is not None and self.link_thread is None:
                    busy = self.link_checks.check_when_due(now) or busy
                if self.reminders is not None:
                    busy = self.reminders.remind_when_due(now) or busy
                if self.pdf_editions is not None and self.pdf_thread is None:
                    busy = self.pdf_editions.build_when_due(now) or busy
                if self.media_purge is not None:
                    self.media_purge.purge_when_due(now)
                return busy
            finally:
                db.session.remove()

    def _check_links(self) -> None:
        """Check the due links of drafts until the worker stops (the link thread)."""
        assert self.link_checks is not None
        while not self.stopping.is_set():
            checked = False
            with self.app.app_context():
                try:
                    checked = self.link_checks.check_when_due(utcnow())
                except Exception as exc:  # noqa: BLE001 - checks go on after a fault
                    if is_database_outage(exc):
                        log.debug("links not checked: %s", exc)
                    else:
                        log.exception("link checks failed; trying again later")
                    discard_session()
                finally:
                    db.session.remove()
            if not checked:
                self.stopping.wait(self.idle_seconds)

    def _build_pdfs(self) -> None:
        """Build due PDF editions until the worker stops (the PDF thread)."""
        assert self.pdf_editions is not None
        while not self.stopping.is_set():
            built = False
            with self.app.app_context():
                try:
                    built = self.pdf_editions.build_when_due(utcnow())
                finally:
                    db.session.remove()
            if not built:
                self.stopping.wait(self.idle_seconds)

    def _give_back_claims(self) -> None:
        """Give back rows still leased to this worker: none is being sent, and the
        outcomes of those that were are written, so these never left."""
        _give_back(Delivery, self.name)
        _give_back(OutboundMessage, self.name)
        db.session.commit()
        self.may_hold_claims = False

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
                Job(
                    message.id,
                    message.to_address,
                    raw,
                    message_id("m", message.id),
                    sender=envelope_sender("m", message.id),
                )
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
        claimed_at: float,
    ) -> None:
        """Send jobs, recording outcomes in small committed groups as they arrive,
        while the lease is renewed (claimed_at: time.monotonic() before the claim)."""
        ledger = self.ledger  # keeps outcomes while the database cannot be reached
        for outcome in outcomes:
            ledger.add(model, outcome)

        def report(job: Job, outcome: Outcome) -> None:
            ledger.add(model, outcome, answered=True)
            if outcome.status != Result.SENT:
                log.warning("%s %s: %s", model.__tablename__, job.row_id, outcome.error)
            if len(ledger) >= self.record_every and not ledger.write():
                self.pool.halt.set()  # send no more than can be recorded
            self.heartbeat()

        ledger.write_or_raise()
        rows = [job.row_id for job in jobs]
        lease = LeaseKeeper(
            self.engine, model, self.name, rows, self.lease_seconds, claimed_at
        )
        schedule = Schedule(
            jobs,
            self.pace,
            lease,
            self.stopping,
            halt=self.pool.halt,
            # Waits for a slot stay well inside the lease and the heartbeat's window.
            horizon=min(
                self.lease_seconds / 2, workers.MISSING_AFTER.total_seconds() / 2
            ),
            more_due=len(jobs) + len(outcomes) >= self.claim_limit,
        )
        with lease:
            self.pool.run(schedule, report)
        unsent, deferred = schedule.leftovers()
        ledger.release(model, unsent)
        ledger.defer(model, deferred)
        ledger.write_or_raise()
        if schedule.error is not None:
            raise schedule.error  # back off like any failed round
        self.pool.check_reachable()  # an unreachable server: back off, then retry


def _give_back(model: type[Queued], worker: str) -> None:
    """Give back every row of a table still leased to this worker."""
    leased = db.session.scalars(select(model.id).where(model.leased_by == worker))
    queue.release(model, worker, list(leased))
