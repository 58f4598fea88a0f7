"""A dead worker is seen: heartbeats, the editors' banner, /healthz, and progress
that never claims 100 % while rows are left."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail import queue
from newsletter.mail.queue import Outcome, Result, RetryPolicy
from newsletter.mail.transport import MemoryTransport
from newsletter.mail.worker import Worker
from newsletter.models import Delivery, Issue, OutboundMessage, WorkerHeartbeat
from newsletter.models.types import utcnow
from newsletter.services import sending, workers
from tests.factories import make_issue, make_item
from tests.test_worker_processes import issue_for

BANNER = "ingen bakgrundsprocess (worker) har hörts av på två minuter"


def seen(app, ago: timedelta, name: str = "host:1") -> None:
    """Record a worker's heartbeat some time ago."""
    with app.app_context():
        now = utcnow()
        workers.record_heartbeat(name, "host", 1, now - ago, now - ago)
        db.session.commit()


def queue_message(app) -> None:
    """Queue one transactional message."""
    with app.app_context():
        db.session.add(OutboundMessage(template="confirm", to_address="a@example.se"))
        db.session.commit()


def start_issue(app) -> None:
    """Start sending an issue (nobody has written its deliveries yet)."""
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        sending.start_sending(issue.id, utcnow())
        db.session.commit()


def schedule_issue(app, at_minutes: int) -> None:
    """Schedule an issue some minutes from now (negative: its time has come)."""
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        sending.schedule(issue.id, utcnow() + timedelta(minutes=at_minutes))
        db.session.commit()


def issue_due(app) -> None:
    """Schedule an issue whose time has come."""
    schedule_issue(app, -1)


def issue_due_later(app) -> None:
    """Schedule an issue an hour from now."""
    schedule_issue(app, 60)


def nothing(app) -> None:
    """Leave the queues empty."""


@pytest.mark.parametrize("waiting", [start_issue, queue_message, issue_due])
def test_editors_are_told_to_start_a_worker_when_mail_waits_and_none_is_seen(
    app, editor, waiting
):
    waiting(app)
    seen(app, timedelta(minutes=3))
    page = editor.get("/editor/").get_data(as_text=True)
    assert BANNER in page
    assert "flask --app wsgi worker" in page


@pytest.mark.parametrize(
    ("waiting", "last_seen"),
    [
        (start_issue, timedelta(seconds=30)),  # a worker is there
        (issue_due_later, None),  # nothing is due yet
        (nothing, None),
    ],
)
def test_no_banner_while_a_worker_is_seen_or_nothing_waits(
    app, editor, waiting, last_seen
):
    waiting(app)
    if last_seen is not None:
        seen(app, last_seen)
    assert BANNER not in editor.get("/editor/").get_data(as_text=True)


def test_a_worker_writes_its_heartbeat_and_forgets_workers_gone_for_a_day(app):
    seen(app, timedelta(days=2), name="gone:1")
    Worker(app, transport_factory=MemoryTransport, name="here:7").run(once=True)
    with app.app_context():
        rows = db.session.scalars(select(WorkerHeartbeat)).all()
        assert [(row.name, row.pid) for row in rows] == [("here:7", os.getpid())]
        assert utcnow() - rows[0].last_seen_at < timedelta(seconds=10)


@pytest.mark.real_commits
def test_a_heartbeat_that_cannot_be_written_never_stops_sending(sqlite_app):
    issue_id = issue_for(sqlite_app, 3)
    with sqlite_app.app_context():
        WorkerHeartbeat.__table__.drop(db.engine)
    transport = MemoryTransport()
    Worker(sqlite_app, transport_factory=lambda: transport).run(once=True)
    assert len(transport.sent) == 3
    with sqlite_app.app_context():
        assert db.session.get(Issue, issue_id).status == "sent"


def test_healthz_reports_the_newest_worker_heartbeat(app, client):
    seen(app, timedelta(seconds=90), name="old:1")
    seen(app, timedelta(seconds=30), name="new:2")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert 30 <= body["worker_age_seconds"] < 40
    assert body["worker_seen_at"].startswith(str(utcnow().year))


def test_healthz_stays_200_without_any_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "worker_seen_at": None,
        "worker_age_seconds": None,
    }


def test_progress_shows_100_percent_only_when_no_row_is_left(app, editor):
    issue_id = issue_for(app, 200)
    with app.app_context():
        sending.fan_out(issue_id, utcnow())
        now = utcnow()
        ids = queue.claim_deliveries("w", 199, 60, now)
        sent = [Outcome(row_id, Result.SENT, f"<{row_id}@x>") for row_id in ids]
        queue.record(Delivery, "w", sent, now, RetryPolicy(8, 60, 3600))
        db.session.commit()
    progress = f"/editor/issues/{issue_id}/progress"
    # 199 of 200 done rounds to 100; one row is still queued.
    assert editor.get(f"{progress}.json").json["percent"] == 99
    assert 'value="99"' in editor.get(progress).get_data(as_text=True)
    with app.app_context():
        last = queue.claim_deliveries("w", 1, 60, utcnow())
        outcome = Outcome(last[0], Result.SENT, "<last@x>")
        queue.record(Delivery, "w", [outcome], utcnow(), RetryPolicy(8, 60, 3600))
        db.session.commit()
    assert editor.get(f"{progress}.json").json["percent"] == 100
