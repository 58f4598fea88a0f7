"""Outages: workers wait out a database restart and stop, and an unreachable SMTP
server; pages answer a clear 503 while the database is down."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from newsletter import create_app
from newsletter.config import update_settings
from newsletter.extensions import db
from newsletter.mail.transport import ServerUnreachable
from newsletter.mail.worker import Outage, Worker
from newsletter.models import Delivery, Issue
from tests.conftest import base_config, build_app, log_in, reset_schema
from tests.factories import make_editor
from tests.smtp import SMTPServer, free_port
from tests.test_worker_processes import (
    by_recipient,
    issue_for,
    start_worker,
    wait_for,
)

# Stopping the database under this test process's own connection pool leaves psycopg
# connections that the server dropped; the garbage collector may then warn about one
# at any later moment. That says nothing about the workers, which run in processes of
# their own, so it is not an error here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function BaseConnection.__del__"
    ":pytest.PytestUnraisableExceptionWarning",
    "ignore::ResourceWarning",
)

# Messages a worker may have had accepted by the SMTP server but not yet recorded.
RECORD_EVERY = 20


def issue_is_sent(app, issue_id: int) -> bool:
    """Tell whether the issue is sent; a database still waking up says no."""
    try:
        with app.app_context():
            return db.session.get(Issue, issue_id).status == "sent"
    except DBAPIError:
        return False


def alive(workers: list[subprocess.Popen], logs: list[Path]) -> bool:
    """Fail at once, with its log, when a worker has exited."""
    for worker, log in zip(workers, logs, strict=True):
        if worker.poll() is not None:
            raise AssertionError(f"a worker exited:\n{log.read_text()[-3000:]}")
    return True


def test_two_workers_finish_an_issue_through_a_database_restart_and_a_stop(
    own_postgres, smtp_server, tmp_path
):
    app = create_app(base_config(own_postgres.url))
    reset_schema(app)
    issue_id = issue_for(app, 2000)
    settings = {
        "SMTP_PORT": smtp_server.port,
        "WORKER_BATCH_SIZE": 100,
        "WORKER_RECORD_EVERY": RECORD_EVERY,
        "RATE_PER_SECOND": 100,  # per worker: the send lasts through both outages
        "WORKER_MAX_BACKOFF_SECONDS": 2,
    }
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    workers = [start_worker(app, log=log, **settings) for log in logs]
    received = smtp_server.sink.recipients
    try:
        wait_for(lambda: alive(workers, logs) and len(received()) >= 300, 60, "300")
        own_postgres.restart()
        after_restart = len(received()) + 300
        wait_for(
            lambda: alive(workers, logs) and len(received()) >= after_restart,
            60,
            "300 more messages after the restart",
        )
        own_postgres.stop()
        # The issue's 30 s stop, shortened: nothing in a worker depends on how long
        # the database is away while the lease (300 s) has not run out.
        time.sleep(6)
        own_postgres.start()
        wait_for(
            lambda: alive(workers, logs) and issue_is_sent(app, issue_id),
            90,
            "the send",
        )
        # The same two processes finished it, and stop politely.
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        assert [worker.wait(timeout=30) for worker in workers] == [0, 0]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    seen = by_recipient(smtp_server.sink)
    assert len(seen) == 2000  # everybody got the issue
    repeated = sum(len(ids) - 1 for ids in seen.values())
    assert repeated <= 2 * RECORD_EVERY  # at most what was in flight, per worker
    assert all(len(set(ids)) == 1 for ids in seen.values())
    with app.app_context():
        statuses = dict(
            db.session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            ).all()
        )
        leased = db.session.scalar(
            select(func.count()).where(Delivery.leased_by.is_not(None))
        )
        db.session.remove()
        db.engine.dispose()
    assert statuses == {"sent": 2000} and leased == 0
    for log in logs:
        text = log.read_text()
        assert "Traceback" not in text  # an outage is a line, not a stack trace
        assert "the database cannot be reached" in text
        assert "the database is back after" in text
        # One line when an outage starts and one when it ends, not one per retry.
        assert text.count("cannot be reached") <= 4, text


@pytest.mark.real_commits
def test_an_unreachable_mail_server_burns_no_attempts_and_loses_nothing(
    sqlite_app, caplog
):
    port = free_port()  # nothing listens here until the server starts below
    update_settings(
        sqlite_app,
        SMTP_PORT=port,
        WORKER_IDLE_SECONDS=0.05,
        WORKER_MAX_BACKOFF_SECONDS=0.5,
    )
    issue_id = issue_for(sqlite_app, 50)
    worker = Worker(sqlite_app)
    thread = threading.Thread(target=worker.run, daemon=True)
    caplog.set_level(logging.INFO, logger="newsletter.worker")
    thread.start()
    try:
        wait_for(lambda: delivery_count(sqlite_app) == 50, 30, "the fan-out")
        time.sleep(1.5)  # the worker tries to connect, and again
        with sqlite_app.app_context():
            rows = db.session.execute(select(Delivery.status, Delivery.attempts)).all()
            assert db.session.get(Issue, issue_id).status == "sending"
        # Given back untouched after each refused round (or claimed for the next).
        assert {tuple(row) for row in rows} <= {("queued", 0), ("sending", 1)}
        with SMTPServer(port=port) as server:
            wait_for(lambda: issue_is_sent(sqlite_app, issue_id), 30, "the send")
            recipients = server.sink.recipients()
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert sorted(recipients) == [f"s{n:05}@example.se" for n in range(50)]
    with sqlite_app.app_context():
        attempts = db.session.scalars(select(Delivery.attempts).distinct()).all()
    assert attempts == [1]  # the refused rounds cost no row an attempt
    lines = [r.getMessage() for r in caplog.records]
    assert sum("the mail server cannot be reached" in line for line in lines) == 1
    assert any("the mail server is back after" in line for line in lines)


def test_a_worker_waiting_out_a_database_outage_stops_at_once_on_sigterm(tmp_path):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/newsletter"
    app = build_app(base_config(url))
    log = tmp_path / "worker.log"
    worker = start_worker(app, log=log, WORKER_MAX_BACKOFF_SECONDS=30)
    try:
        wait_for(
            lambda: (
                worker.poll() is not None
                or "the database cannot be reached" in log.read_text()
            ),
            30,
            "the outage to be logged",
        )
        assert worker.poll() is None, log.read_text()  # waiting, not dead
        time.sleep(2)  # into the pauses between retries
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert time.monotonic() - started < 5
    assert "Traceback" not in log.read_text()


def test_retries_wait_one_second_then_twice_as_long_up_to_the_cap():
    outage = Outage(cap=30)
    error = ServerUnreachable("connection to 127.0.0.1:25: refused")
    assert [outage.failed(error) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    outage.over()
    assert outage.failed(error) == 1  # a new outage starts from the beginning


def delivery_count(app) -> int:
    """Count the delivery rows written so far."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Delivery)) or 0


def test_editor_pages_answer_a_clear_503_while_the_database_is_down(own_postgres):
    app = build_app(base_config(own_postgres.url))
    reset_schema(app)
    with app.app_context():
        make_editor(email="editor@example.se")
    editor = log_in(app.test_client(), "editor@example.se")
    own_postgres.stop()
    try:
        for response in (
            editor.get("/editor/"),
            editor.post("/editor/issues/new", data={"title": "Nytt nummer"}),
        ):
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "60"
            page = response.get_data(as_text=True)
            assert "Databasen går inte att nå just nu" in page
            assert "Inget av det du har sparat har gått förlorat." in page
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_public_pages_and_healthz_answer_503_when_the_database_is_unreachable():
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/newsletter"
    app = build_app(base_config(url))
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert "Försök igen om en minut." in response.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["database"] == "unreachable"
