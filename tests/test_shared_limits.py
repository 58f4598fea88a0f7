"""Leases and send rates with several real worker processes: the limits hold for all
workers together, measured at the SMTP sink, and no batch is sent twice."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from newsletter.extensions import db
from newsletter.mail import queue
from newsletter.mail.pace import LeaseKeeper, Pace, Schedule, claim_limit
from newsletter.mail.transport import MemoryTransport
from newsletter.mail.worker import Job, SenderPool, Worker
from newsletter.models import Delivery, DeliveryStatus
from newsletter.models.types import utcnow
from newsletter.services import sending
from newsletter.services.subscriber_import import ImportRow, import_subscribers
from tests.factories import make_issue, make_item, make_subscriber, theme
from tests.test_worker_processes import (
    by_recipient,
    issue_status,
    start_worker,
    stop,
    wait_for,
)


def issue_to(app, addresses: list[str]) -> int:
    """Create an issue and a confirmed subscriber per address, and start sending."""
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        aldre = frozenset({theme("aldre").id})
        rows = [ImportRow(0, address, "", aldre) for address in addresses]
        import_subscribers(rows, "Test subscribers who consented.", "test", utcnow())
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
        return issue.id


def send_with_workers(
    app, issue_id: int, count: int, timeout: float, **settings
) -> bool:
    """Run `count` worker processes with these settings until the issue is sent or
    the time is up; return whether it was sent."""
    workers = [start_worker(app, **settings) for _ in range(count)]
    try:
        wait_for(lambda: issue_status(app, issue_id) == "sent", timeout, "the send")
        return True
    except AssertionError:
        return False
    finally:
        for worker in workers:
            stop(worker)


def middle_rate(times: list[float]) -> float:
    """Messages per second over the middle 80 % of a send (start and end ramp)."""
    times = sorted(times)
    middle = times[len(times) // 10 : len(times) - len(times) // 10]
    return (len(middle) - 1) / (middle[-1] - middle[0])


def busiest_second(times: list[float]) -> int:
    """The most messages accepted within any one second. The sink stamps a message
    once it has read it, in a thread of the test process, so bursts seen here carry
    its own scheduling delays: the workers' sends are spaced more evenly (at 20/s,
    at most 21 started within a second, against up to 23 seen here)."""
    times = sorted(times)
    return max(
        sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)
    )


def test_a_batch_longer_than_its_lease_is_never_sent_twice(sqlite_app, smtp_server):
    # Two workers at 2 messages/s, 40 a batch, a 10 s lease: a whole batch needs
    # 20 s, so without renewal the other worker takes the rows over and sends them
    # again. 40 recipients: more than a batch per worker and longer than a lease.
    issue_id = issue_to(sqlite_app, [f"s{n:03}@example.se" for n in range(40)])
    finished = send_with_workers(
        sqlite_app,
        issue_id,
        2,
        60,
        SMTP_PORT=smtp_server.port,
        RATE_PER_SECOND=2,
        WORKER_BATCH_SIZE=40,
        WORKER_LEASE_SECONDS=10,
    )
    seen = by_recipient(smtp_server.sink)
    assert {r: ids for r, ids in seen.items() if len(ids) > 1} == {}
    assert finished and len(seen) == 40


def test_the_rate_per_second_holds_for_three_workers_together(
    postgres_app, smtp_server
):
    issue_id = issue_to(postgres_app, [f"s{n:03}@example.se" for n in range(120)])
    assert send_with_workers(
        postgres_app,
        issue_id,
        3,
        40,
        SMTP_PORT=smtp_server.port,
        RATE_PER_SECOND=20,
        WORKER_BATCH_SIZE=10,
    )
    times = [received.at for received in smtp_server.sink.received]
    assert len(times) == 120
    assert 16 <= middle_rate(times) <= 21
    assert busiest_second(times) <= 20 + 4


def test_a_domain_limit_holds_for_three_workers_without_holding_up_other_mail(
    postgres_app, smtp_server
):
    slow = [f"s{n:03}@slow.example.se" for n in range(60)]
    other = [f"o{n:03}@example.se" for n in range(60)]
    mixed = [a for pair in zip(slow, other, strict=True) for a in pair]
    issue_id = issue_to(postgres_app, mixed)
    assert send_with_workers(
        postgres_app,
        issue_id,
        3,
        40,
        SMTP_PORT=smtp_server.port,
        DOMAIN_RATE_LIMITS="slow.example.se=10/s",
        WORKER_BATCH_SIZE=20,
    )
    assert len(smtp_server.sink.received) == 120
    at = {r.recipient: r.at for r in smtp_server.sink.received}
    slow_times = sorted(at[a] for a in slow if a in at)
    other_times = sorted(at[a] for a in other if a in at)
    assert len(slow_times) == 60 and len(other_times) == 60
    assert 8 <= middle_rate(slow_times) <= 10.5
    assert busiest_second(slow_times) <= 10 + 4
    # The unlimited domain's mail is not paced behind the slow one's.
    assert other_times[-1] < slow_times[len(slow_times) // 2]


# In one process, on both engines: the pieces that make the above hold.


def issue_queued_for(app, count: int) -> int:
    """Create an issue with `count` confirmed subscribers and its delivery rows."""
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        for n in range(count):
            make_subscriber(f"s{n:02}@example.se")
        sending.start_sending(issue.id, utcnow())
        sending.fan_out(issue.id, utcnow())
        db.session.commit()
        return issue.id


def run_briefly(worker: Worker, seconds: float = 10) -> bool:
    """Run a worker until nothing is due; stop it after `seconds`. Return whether
    it finished on its own."""
    thread = threading.Thread(target=worker.run, kwargs={"once": True})
    thread.start()
    thread.join(seconds)
    finished = not thread.is_alive()
    worker.stop()
    thread.join()
    return finished


def deliveries(app) -> list[Delivery]:
    """Every delivery row, by id."""
    with app.app_context():
        rows = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
        db.session.expunge_all()
        return list(rows)


def test_a_worker_claims_no_more_than_it_can_send_in_half_a_lease():
    assert claim_limit(40, 10, per_second=2, per_hour=0) == 10
    assert claim_limit(200, 300, per_second=0.001, per_hour=0) == 1
    assert claim_limit(200, 300, per_second=0, per_hour=0) == 200
    assert claim_limit(200, 300, per_second=0, per_hour=50) == 50


@pytest.mark.real_commits
def test_a_spent_hourly_quota_gives_the_rest_back_for_the_next_hour(make_app):
    app = make_app(RATE_PER_HOUR=5)
    issue_queued_for(app, 8)
    memory = MemoryTransport()
    assert run_briefly(Worker(app, transport_factory=lambda: memory))
    assert len(memory.sent) == 5
    waiting = [d for d in deliveries(app) if d.status == DeliveryStatus.QUEUED]
    assert len(waiting) == 3
    for row in waiting:
        assert row.leased_by is None and row.attempts == 0
        assert row.next_attempt_at > utcnow() + timedelta(minutes=55)


@pytest.mark.real_commits
def test_the_hourly_quota_is_shared_by_all_workers(make_app):
    app = make_app(RATE_PER_HOUR=5)
    issue_queued_for(app, 8)
    first, second = MemoryTransport(), MemoryTransport()
    run_briefly(Worker(app, transport_factory=lambda: first, name="first"), 5)
    with app.app_context():  # the rest is due again, for any worker
        db.session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        db.session.commit()
    run_briefly(Worker(app, transport_factory=lambda: second, name="second"), 5)
    assert len(first.sent) + len(second.sent) == 5


@pytest.mark.real_commits
def test_a_worker_renews_its_lease_while_a_slow_batch_is_sent(make_app):
    app = make_app(WORKER_LEASE_SECONDS=0.6, WORKER_BATCH_SIZE=5)
    issue_queued_for(app, 5)
    taken_over: list[int] = []

    class SlowTransport(MemoryTransport):
        """Takes 0.3 s a message: the batch needs 1.5 s, the lease is 0.6 s."""

        def send(self, sender: str, recipient: str, message: bytes) -> None:
            time.sleep(0.3)
            with app.app_context():  # another worker looks for expired leases
                taken_over.extend(queue.claim_deliveries("other", 5, 0.6, utcnow()))
                db.session.commit()
            super().send(sender, recipient, message)

    slow = SlowTransport()
    assert run_briefly(Worker(app, transport_factory=lambda: slow, name="first"))
    assert taken_over == []
    assert len(slow.sent) == 5
    assert {d.status for d in deliveries(app)} == {DeliveryStatus.SENT}


def claimed_jobs(app, count: int) -> tuple[list[Job], float]:
    """Claim `count` deliveries as worker "first" and make a job of each."""
    issue_queued_for(app, count)
    claimed_at = time.monotonic()
    with app.app_context():
        ids = queue.claim_deliveries("first", count, 300, utcnow())
        db.session.commit()
    message = b"Subject: x\r\n\r\nx"
    jobs = [
        Job(i, f"row{i}@example.se", message, f"<{i}@x>", "nyhetsbrev@example.se")
        for i in ids
    ]
    return jobs, claimed_at


def keeper_for(app, jobs: list[Job], claimed_at: float) -> LeaseKeeper:
    """A lease keeper of the jobs' rows for worker "first"."""
    with app.app_context():
        engine = db.engine
    rows = [job.row_id for job in jobs]
    return LeaseKeeper(engine, Delivery, "first", rows, 300, claimed_at)


@pytest.mark.real_commits
def test_sender_threads_never_send_rows_another_worker_has_taken_over(make_app):
    app = make_app()
    jobs, claimed_at = claimed_jobs(app, 6)
    with app.app_context():  # the first worker stalled; another took half over
        lost = [job.row_id for job in jobs[:3]]
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(lost))
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        assert sorted(queue.claim_deliveries("other", 3, 300, utcnow())) == lost
        db.session.commit()
    keeper = keeper_for(app, jobs, claimed_at)
    keeper.renew()
    memory = MemoryTransport()
    pool = SenderPool(lambda: memory, 3, threading.Event())
    with app.app_context():
        pace = Pace(db.engine, 0, 0, {})
    schedule = Schedule(
        jobs, pace, keeper, threading.Event(), horizon=150, more_due=False
    )
    pool.run(schedule, lambda job, outcome: None)
    assert sorted(recipient for _, recipient, _ in memory.sent) == [
        job.recipient for job in jobs[3:]
    ]
    with app.app_context():
        renewed = db.session.scalars(
            select(Delivery.lease_expires_at).where(Delivery.leased_by == "first")
        ).all()
    assert len(renewed) == 3


@pytest.mark.real_commits
def test_rows_count_as_held_only_while_the_last_renewal_is_recent(make_app):
    app = make_app()
    jobs, _ = claimed_jobs(app, 2)
    # No renewal for two thirds of a lease (the database was unreachable): sending
    # stops a third of a lease before another worker may reclaim the rows.
    keeper = keeper_for(app, jobs, time.monotonic() - 300 * 2 / 3)
    assert not keeper.take(jobs[0].row_id)
    keeper.renew()
    assert keeper.take(jobs[1].row_id)
