"""Real worker processes: killed mid-send, stopped politely, and two at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsletter import create_app
from newsletter.config import update_settings
from newsletter.extensions import db
from newsletter.models import Delivery, Issue
from newsletter.models.types import utcnow
from newsletter.services import sending
from newsletter.services.subscriber_import import ImportRow, import_subscribers
from tests.conftest import base_config, reset_schema
from tests.factories import make_issue, make_item, theme

ROOT = Path(__file__).resolve().parent.parent


def start_worker(
    app, *options: str, log: Path | None = None, **settings: object
) -> subprocess.Popen:
    """Start `flask worker [options]` in its own process against the app's database,
    its output going to the log file if one is given."""
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": app.config["SECRET_KEY"],
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_BASE_URL": app.config["BASE_URL"],
        "NEWSLETTER_WORKER_IDLE_SECONDS": "0.1",
        "NEWSLETTER_LINK_CHECK_EVERY_SECONDS": "0",  # no outside addresses
        **{f"NEWSLETTER_{k}": str(v) for k, v in settings.items()},
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *options]
    if log is None:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll until condition() is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def issue_for(app, count: int) -> int:
    """Create an issue and `count` confirmed subscribers, and start sending."""
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        rows = [
            ImportRow(0, f"s{n:05}@example.se", "", frozenset({theme("aldre").id}))
            for n in range(count)
        ]
        import_subscribers(rows, "Test subscribers who consented.", "test", utcnow())
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
        return issue.id


def issue_status(app, issue_id: int) -> str:
    with app.app_context():
        return db.session.get(Issue, issue_id).status


def by_recipient(sink) -> dict[str, set[str]]:
    """Map each recipient to the Message-IDs it received."""
    seen: dict[str, list[str]] = defaultdict(list)
    for received in list(sink.received):
        seen[received.recipient].append(received.parse()["Message-ID"])
    return seen


def stop(process: subprocess.Popen) -> int:
    """Send SIGTERM and return the exit status (killing the process if it hangs)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_worker_killed_mid_send_loses_nothing_and_repeats_only_unrecorded(
    sqlite_app, smtp_server
):
    update_settings(sqlite_app, BASE_URL="https://nyhetsbrev.example.se")
    issue_id = issue_for(sqlite_app, 300)
    settings = {
        "SMTP_PORT": smtp_server.port,
        "WORKER_LEASE_SECONDS": 2,
        "WORKER_BATCH_SIZE": 40,
        "WORKER_RECORD_EVERY": 10,
        "RATE_PER_SECOND": 300,
    }
    first = start_worker(sqlite_app, **settings)
    try:
        wait_for(lambda: len(smtp_server.sink.received) >= 100, 60, "100 messages")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = len(smtp_server.sink.received)
    assert killed_at < 300, "the worker finished before it could be killed"
    second = start_worker(sqlite_app, **settings)
    try:
        wait_for(lambda: issue_status(sqlite_app, issue_id) == "sent", 60, "the send")
    finally:
        stop(second)
    seen = by_recipient(smtp_server.sink)
    assert len(seen) == 300  # everybody got the issue
    repeated = {r: ids for r, ids in seen.items() if len(ids) > 1}
    # Only messages accepted but not yet recorded can repeat, and they keep their ID.
    assert len(repeated) <= settings["WORKER_RECORD_EVERY"]
    assert all(len(set(ids)) == 1 for ids in seen.values())
    with sqlite_app.app_context():
        counts = sending.progress(issue_id).counts
        assert counts["sent"] == 300


def test_sigterm_finishes_the_message_in_flight_and_gives_the_rest_back(
    sqlite_app, smtp_server
):
    issue_id = issue_for(sqlite_app, 200)
    worker = start_worker(
        sqlite_app,
        SMTP_PORT=smtp_server.port,
        WORKER_BATCH_SIZE=200,
        RATE_PER_SECOND=50,
    )
    try:
        wait_for(lambda: len(smtp_server.sink.received) >= 20, 60, "20 messages")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    received = len(smtp_server.sink.received)
    assert received < 200
    with sqlite_app.app_context():
        counts = sending.progress(issue_id).counts
        leftover = db.session.scalar(
            select(func.max(Delivery.attempts)).where(Delivery.status == "queued")
        )
    assert counts["sending"] == 0  # nothing left leased to a stopped worker
    assert counts["sent"] == received  # every accepted message is recorded
    assert counts["queued"] == 200 - received
    assert leftover == 0  # released rows do not count as an attempt


@pytest.mark.postgresql
def test_two_workers_on_postgresql_deliver_ten_thousand_without_duplicates(
    postgres_url, smtp_server
):
    app = create_app(base_config(postgres_url))
    reset_schema(app)
    issue_id = issue_for(app, 10_000)
    settings = {"SMTP_PORT": smtp_server.port, "WORKER_BATCH_SIZE": 100}
    workers = [start_worker(app, **settings) for _ in range(2)]
    try:
        wait_for(lambda: issue_status(app, issue_id) == "sent", 240, "the send")
    finally:
        for worker in workers:
            stop(worker)
    recipients = smtp_server.sink.recipients()
    assert len(recipients) == 10_000
    assert len(set(recipients)) == 10_000
    with app.app_context():
        leased_by = db.session.scalars(select(Delivery.leased_by).distinct()).all()
        assert leased_by == [None]
        assert sending.progress(issue_id).counts["sent"] == 10_000
        db.session.remove()
        db.engine.dispose()
