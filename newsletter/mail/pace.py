"""Pacing a batch: send rates held for all workers together, and leases kept alive.

Every worker process on every machine shares RATE_PER_SECOND, RATE_PER_HOUR and
DOMAIN_RATE_LIMITS through the send_rate table (SharedRate). While a batch is being
sent, a LeaseKeeper renews its lease and tells which rows are still this worker's;
a Schedule hands the batch's jobs to the sender threads one at a time, when the
limits allow and only while the row is held. With no limit configured none of this
touches the database, and a job costs two uncontended locks and a set lookup.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic

from sqlalchemy import (
    ColumnElement,
    Double,
    Engine,
    Update,
    case,
    cast,
    extract,
    func,
    literal,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from newsletter.database import is_database_outage
from newsletter.mail import queue
from newsletter.mail.queue import Queued
from newsletter.models import SendRate
from newsletter.models.types import table_of, utcnow

if TYPE_CHECKING:
    from newsletter.mail.worker import Job

log = logging.getLogger("newsletter.worker")

HOUR = 3600.0
# A worker reserves about this many seconds' worth of slots at a time: at 1,000
# messages a second it asks the database ten times a second, not a thousand.
BLOCK_SECONDS = 0.1
# A spaced slot may be used at most this late (and at most half an interval);
# older ones are dropped, because sending late on old slots would bunch messages
# together above the rate. So any second holds at most one message more than the
# rate allows, from a late slot followed by a punctual one.
GRACE_SECONDS = 0.05


def claim_limit(
    batch_size: int, lease_seconds: float, per_second: float, per_hour: int
) -> int:
    """Return how many rows a worker may claim at once: no more than it can send in
    half a lease at the configured rate, nor more than an hour's quota."""
    limit = batch_size
    if per_second > 0:
        limit = min(limit, max(1, math.floor(per_second * lease_seconds / 2)))
    if per_hour > 0:
        limit = min(limit, per_hour)
    return limit


def _database_clock(dialect: str) -> ColumnElement[float]:
    """SQL: the database's time in seconds since the epoch, fixed for one statement,
    so that workers on machines with different clocks agree on slots."""
    if dialect == "postgresql":
        return cast(extract("epoch", func.statement_timestamp()), Double)
    return (func.julianday("now") - 2440587.5) * 86400.0


class DatabaseClock:
    """Converts times by the database's clock into time.monotonic() values.

    A reservation's statement ran after the moment `before` the worker sent it, so
    `before - clock` is a lower bound of the offset between the two clocks; the
    largest bound of the last minute is the closest (it differs from the true
    offset by the quickest round trip seen), where a single statement's would be off
    by its own delay, and workers would disagree on slot times by that much.
    """

    def __init__(self) -> None:
        self.bounds: deque[tuple[float, float]] = deque()

    def offset(self, before: float, clock: float) -> float:
        """Note one statement's times and return the offset to add to a database
        time to make it a monotonic one."""
        self.bounds.append((before, before - clock))
        while self.bounds[0][0] < before - 60:
            self.bounds.popleft()
        return max(bound for _, bound in self.bounds)


class SharedRate:
    """One limit held for all workers together through its row in send_rate.

    Spacing: sends are at least `1/per_second` apart. The row's next_at is the first
    slot nobody has reserved; a worker reserves a block of consecutive slots with one
    UPDATE ... RETURNING and hands them out locally at their times. Quota: with
    per_hour, the row also counts the slots given out in the current hour, which
    begins at the first slot after the previous hour ended; when it is spent,
    next_slot answers None until `spent_until`. Times are time.monotonic() values,
    converted from the database's clock in the statement that reserved them.
    Not thread-safe: a Schedule calls it under its lock.
    """

    def __init__(
        self,
        engine: Engine,
        clock: DatabaseClock,
        key: str,
        per_second: float,
        per_hour: int = 0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.key = key
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.grace = min(GRACE_SECONDS, self.interval / 2)
        self.per_hour = per_hour
        if self.interval:
            block = math.ceil(BLOCK_SECONDS / self.interval)
        else:
            block = per_hour // 100
        self.block = max(1, min(block, per_hour) if per_hour else block)
        self.slots: deque[float] = deque()
        self.window_end = math.inf
        self.spent_until = 0.0

    def next_slot(self, now: float) -> float | None:
        """Return when the next slot is, reserving more when none are left; None
        while the hourly quota is spent."""
        if now < self.spent_until:
            return None
        if now >= self.window_end:
            self.slots.clear()  # an old hour's slots must not be used in a new one
        while self.interval and self.slots and self.slots[0] < now - self.grace:
            self.slots.popleft()
        if not self.slots:
            self._reserve()
        return self.slots[0] if self.slots else None

    def take(self) -> None:
        """Use the slot next_slot returned."""
        self.slots.popleft()

    def _reserve(self) -> None:
        """Reserve the next block of slots (or learn that the quota is spent)."""
        with self.engine.begin() as connection:
            statement = self._reservation(connection.dialect.name)
            before = time.monotonic()
            row = connection.execute(statement).one_or_none()
            if row is None:  # the first reservation of this limit anywhere
                connection.execute(self._creation(connection.dialect.name))
                before = time.monotonic()
                row = connection.execute(statement).one()
        next_at, granted, window_start, clock = row
        offset = self.clock.offset(before, clock)
        if self.per_hour:
            self.window_end = window_start + HOUR + offset
        if not granted:
            self.spent_until = self.window_end
            return
        first = next_at - granted * self.interval + offset
        self.slots.extend(first + i * self.interval for i in range(granted))

    def _reservation(self, dialect: str) -> Update:
        """Return the one statement that reserves a block of slots."""
        rate = table_of(SendRate).c
        clock = _database_clock(dialect)
        fresh = rate.window_start + HOUR <= clock  # the last hour is over
        used: Any = case((fresh, 0), else_=rate.window_count)
        granted: Any = literal(self.block)
        if self.per_hour:
            room = self.per_hour - used
            granted = case((room <= 0, 0), (room < self.block, room), else_=granted)
        start = case((rate.next_at > clock, rate.next_at), else_=clock)
        values: dict[str, Any] = {
            "granted": granted,
            "next_at": case(
                (granted > 0, start + granted * self.interval), else_=rate.next_at
            ),
        }
        if self.per_hour:
            values["window_start"] = case((fresh, clock), else_=rate.window_start)
            values["window_count"] = used + granted
        return (
            update(table_of(SendRate))
            .where(rate.key == self.key)
            .values(values)
            .returning(rate.next_at, rate.granted, rate.window_start, clock)
        )

    def _creation(self, dialect: str) -> Any:
        """Return an INSERT of this limit's row that does nothing if it exists."""
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return insert(table_of(SendRate)).values(key=self.key).on_conflict_do_nothing()


class Pace:
    """The limits a worker keeps to: one over all its mail, one per limited domain."""

    def __init__(
        self,
        engine: Engine,
        per_second: float,
        per_hour: int,
        domains: dict[str, float],
    ) -> None:
        clock = DatabaseClock()
        self.overall = (
            SharedRate(engine, clock, "all", per_second, per_hour)
            if per_second > 0 or per_hour > 0
            else None
        )
        self.domains = {
            domain: SharedRate(engine, clock, f"domain:{domain}", rate)
            for domain, rate in domains.items()
        }

    @property
    def active(self) -> bool:
        """Return whether any limit is configured."""
        return self.overall is not None or bool(self.domains)

    def domain_rate(self, recipient: str) -> SharedRate | None:
        """Return the limit of the recipient's domain, if it has one."""
        return self.domains.get(recipient.rpartition("@")[2].lower())


class LeaseKeeper(Generic[Queued]):
    """Keeps a batch's lease alive while it is sent; says which rows are still ours.

    Every third of a lease, one UPDATE ... RETURNING (queue.renewal) on a connection
    of its own extends the lease of the batch's rows that are still leased to this
    worker, and the ids it returns are the rows still held (one it skips because it
    is locked is being recorded, or reclaimed by another worker). A row counts as
    held for two thirds of a lease after the last confirmation (the claim or a
    renewal): when renewals fail (the database is down) sending stops a third of a
    lease before another worker could reclaim the rows. Used as a context manager
    around sending.
    """

    def __init__(
        self,
        engine: Engine,
        model: type[Queued],
        worker: str,
        row_ids: Sequence[int],
        lease_seconds: float,
        confirmed_at: float,
    ) -> None:
        self.engine = engine
        self.model: type[Queued] = model
        self.worker = worker
        self.row_ids = list(row_ids)
        self.held = set(row_ids)
        self.lost: set[int] = set()  # rows a renewal found no longer ours
        self.lease_seconds = lease_seconds
        self.confirmed_at = confirmed_at
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def restore(self, row_id: int) -> None:
        """Let a taken row wait to be sent again (its sender could not send it),
        unless a renewal found it taken over meanwhile."""
        with self.lock:
            if row_id not in self.lost:
                self.held.add(row_id)

    def take(self, row_id: int) -> bool:
        """Return whether the row is still leased to this worker with time to spare,
        so that it may be sent now; either way it no longer waits to be sent."""
        with self.lock:
            fresh = time.monotonic() < self.confirmed_at + self.lease_seconds * 2 / 3
            if row_id not in self.held:
                return False
            self.held.discard(row_id)
            return fresh

    def renew(self) -> None:
        """Extend the lease of the rows still ours and forget the others."""
        started = time.monotonic()
        until = utcnow() + timedelta(seconds=self.lease_seconds)
        statement = queue.renewal(self.model, self.worker, self.row_ids, until)
        try:
            with self.engine.begin() as connection:
                kept = set(connection.scalars(statement))
        except SQLAlchemyError as exc:
            log.warning("could not renew the lease of a batch: %s", exc)
            return
        with self.lock:
            self.lost.update(set(self.row_ids) - kept)
            lost = self.held - kept  # of those still waiting to be sent
            self.held &= kept
            self.confirmed_at = started
        if lost:
            log.warning("%s rows were taken over by another worker", len(lost))

    def _run(self) -> None:
        """Renew every third of a lease until the batch is done."""
        while not self.done.wait(self.lease_seconds / 3):
            self.renew()

    def __enter__(self) -> LeaseKeeper[Queued]:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.done.set()
        self.thread.join()


class Schedule:
    """The jobs of one batch, handed to the sender threads when they may go.

    Each job is checked against the lease just before it is handed out: a row this
    worker no longer holds is dropped, never sent. With limits configured, a job
    also waits for a slot of the overall rate.

    Domain limits: jobs to a limited domain wait in a line of their own. A sender
    takes the next job whose domain has a slot now, else the next job to an
    unlimited domain; so a busy domain never holds up mail to the others in the
    batch, and a domain's slot is used when it comes rather than at a guessed time.
    When only jobs to limited domains are left and none has a slot now, they wait
    for their slots only if the claim was not full; after a full claim more mail is
    probably due, so they are given back instead, each due at the time its domain
    will likely have a slot for it (without counting an attempt), and the worker
    claims the next batch at once. A line whose next slot is further off than
    `horizon` is given back the same way, and when the hourly quota is spent, all
    remaining jobs are given back, due when the next hour begins. So no worker sits
    on leased rows that it cannot send soon, nor on mail that could go elsewhere.
    """

    def __init__(
        self,
        jobs: Iterable[Job],
        pace: Pace,
        lease: LeaseKeeper[Any],
        stopping: threading.Event,
        *,
        halt: threading.Event | None = None,
        horizon: float,
        more_due: bool,
    ) -> None:
        self.pace = pace
        self.lease = lease
        self.stopping = stopping
        self.halt = halt or threading.Event()  # set when the sender pool stops early
        self.horizon = horizon
        self.more_due = more_due
        self.lock = threading.Lock()
        self.open: deque[Job] = deque()  # jobs to domains without a limit
        self.lines: dict[SharedRate, deque[Job]] = {}
        for job in jobs:
            rate = pace.domain_rate(job.recipient) if pace.domains else None
            if rate is None:
                self.open.append(job)
            else:
                self.lines.setdefault(rate, deque()).append(job)
        self.deferred: list[tuple[int, datetime]] = []
        self.dropped: list[int] = []
        self.failed = False  # the database could not be asked for slots
        self.error: SQLAlchemyError | None = None  # why, for the worker to back off

    def take(self) -> Job | None:
        """Return the next job that may go now, waiting for its slot; None when no
        more of the batch is to be sent now (done, given back, or stopping)."""
        while not (self.stopping.is_set() or self.halt.is_set() or self.failed):
            try:
                with self.lock:
                    job, wake = self._next(time.monotonic())
            except SQLAlchemyError as exc:
                if is_database_outage(exc):
                    # The worker logs the outage itself, once: no trace here.
                    log.warning(
                        "could not reserve send slots (%s); the batch is given back",
                        str(exc).splitlines()[0],
                    )
                else:
                    log.exception(
                        "could not reserve send slots; the batch is given back"
                    )
                self.failed = True
                self.error = exc
                return None
            if job is not None or wake is None:
                return job
            # Short waits: a halted pool is noticed within half a second.
            self.stopping.wait(min(0.5, max(0.0, wake - time.monotonic())))
        return None

    def give_back(self, job: Job) -> None:
        """Take back a job that was handed out but could not be sent."""
        with self.lock:
            self.lease.restore(job.row_id)
            self.open.appendleft(job)

    def leftovers(self) -> tuple[list[int], list[tuple[int, datetime]]]:
        """Return the rows to give back: never attempted (due as before), and
        deferred by a limit (each due when it will likely allow it)."""
        with self.lock:
            if self.dropped:
                log.warning("%s rows no longer ours were not sent", len(self.dropped))
            unsent = [job.row_id for job in self.open] + self.dropped
            for line in self.lines.values():
                unsent.extend(job.row_id for job in line)
            return unsent, list(self.deferred)

    def _next(self, now: float) -> tuple[Job | None, float | None]:
        """Pick the job that may go now, or say when to look again (None: never)."""
        if not self.pace.active:
            return (self._held(self.open.popleft()), now) if self.open else (None, None)
        if not self.open and not any(self.lines.values()):
            return None, None
        overall = self.pace.overall
        if overall is not None:  # first, so that no domain slot waits for it
            slot = overall.next_slot(now)
            if slot is None:
                self._defer_all(overall.spent_until - now)
                return None, None
            if slot > now:
                return None, slot
        line, soonest = self._ready_line(now)
        if line is None and not self.open:
            if soonest is not None and self.more_due:
                for rate in self.lines:
                    self._defer_line(rate, now)
                return None, None
            return None, soonest
        if overall is not None:
            overall.take()
        if line is not None:
            line.take()
            return self._held(self.lines[line].popleft()), now
        return self._held(self.open.popleft()), now

    def _ready_line(self, now: float) -> tuple[SharedRate | None, float | None]:
        """Return a limited domain with a job and a slot now, else the soonest slot
        of the others; give back the jobs of domains whose slot is too far off."""
        soonest: float | None = None
        for rate, line in self.lines.items():
            if not line:
                continue
            slot = rate.next_slot(now)
            if slot is None or slot - now > self.horizon:
                self._defer_line(rate, now)
            elif slot <= now:
                return rate, None
            elif soonest is None or slot < soonest:
                soonest = slot
        return None, soonest

    def _defer_line(self, rate: SharedRate, now: float) -> None:
        """Give back a domain's jobs, the k-th due k slots after its next one."""
        line = self.lines[rate]
        if not line:
            return
        # The slot next_slot reserved last (this worker may still use it then).
        slot = rate.slots[0] if rate.slots else now
        first = utcnow() + timedelta(seconds=max(0.0, slot - now))
        step = timedelta(seconds=rate.interval)
        self.deferred.extend((j.row_id, first + k * step) for k, j in enumerate(line))
        line.clear()

    def _defer_all(self, seconds: float) -> None:
        """Give back every remaining job, due in this many seconds (hourly quota)."""
        due = utcnow() + timedelta(seconds=seconds)
        rows = [job.row_id for job in self.open]
        for line in self.lines.values():
            rows.extend(job.row_id for job in line)
            line.clear()
        self.open.clear()
        self.deferred.extend((row_id, due) for row_id in rows)
        if rows:
            log.info("hourly quota spent: %s messages wait %.0f s", len(rows), seconds)

    def _held(self, job: Job) -> Job | None:
        """Return the job if its row is still ours; otherwise drop it."""
        if self.lease.take(job.row_id):
            return job
        self.dropped.append(job.row_id)
        return None
