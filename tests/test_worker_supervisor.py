"""`flask worker --processes N`: forked workers sharing the queue, one parent that
forwards signals and restarts a child that dies."""

from __future__ import annotations

import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import Delivery, Issue
from newsletter.models.states import DeliveryStatus, IssueStatus
from tests.smtp import Sink, SMTPServer
from tests.test_worker_processes import issue_for, start_worker, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent


def children_of(pid: int) -> set[int]:
    """Return the ids of a process's living children."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def leased_rows(app) -> int:  # noqa: ANN001
    """Count deliveries some worker still holds."""
    with app.app_context():
        held = select(func.count()).where(
            (Delivery.status == DeliveryStatus.SENDING)
            | Delivery.leased_by.is_not(None)
        )
        return db.session.scalar(held.select_from(Delivery)) or 0


@pytest.mark.postgresql
def test_sigterm_to_the_parent_stops_every_worker_process_with_no_row_held(
    postgres_app, smtp_server, tmp_path
):
    issue_for(postgres_app, 400)
    log = tmp_path / "worker.log"
    parent = start_worker(
        postgres_app,
        "--processes",
        "2",
        log=log,
        SMTP_PORT=smtp_server.port,
        WORKER_BATCH_SIZE=20,
        RATE_PER_SECOND=100,
    )
    try:
        wait_for(lambda: len(children_of(parent.pid)) == 2, 30, "two children")
        children = children_of(parent.pid)
        wait_for(lambda: len(smtp_server.sink.received) >= 60, 60, "60 messages")
    finally:
        status = stop(parent)
    assert status == 0, log.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)
    assert len(smtp_server.sink.received) < 400, "it finished before the signal"
    assert leased_rows(postgres_app) == 0


@dataclass
class ConnectionCountingSink(Sink):
    """Also counts the messages each client connection delivered."""

    per_connection: Counter[int] = field(default_factory=Counter)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.per_connection[session.peer[1]] += 1
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.postgresql
def test_two_worker_processes_deliver_an_issue_to_each_subscriber_once(
    postgres_app, tmp_path
):
    issue_id = issue_for(postgres_app, 400)
    log = tmp_path / "worker.log"
    sink = ConnectionCountingSink()
    with SMTPServer(sink) as server:
        parent = start_worker(
            postgres_app,
            "--processes",
            "2",
            "--once",
            log=log,
            SMTP_PORT=server.port,
            WORKER_BATCH_SIZE=20,
        )
        try:
            assert parent.wait(timeout=120) == 0, log.read_text()
        finally:
            if parent.poll() is None:
                parent.kill()
    received = Counter(sink.recipients())
    assert len(received) == 400
    assert set(received.values()) == {1}
    # Each process has its own connection, and both took their share.
    assert len(sink.per_connection) == 2
    assert min(sink.per_connection.values()) >= 20
    with postgres_app.app_context():
        assert db.session.get(Issue, issue_id).status == IssueStatus.SENT
    assert leased_rows(postgres_app) == 0


def test_a_worker_process_that_dies_is_started_again(sqlite_app, smtp_server, tmp_path):
    log = tmp_path / "worker.log"
    parent = start_worker(
        sqlite_app, "--processes", "2", log=log, SMTP_PORT=smtp_server.port
    )
    try:
        wait_for(lambda: len(children_of(parent.pid)) == 2, 30, "two children")
        first = children_of(parent.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: len(children_of(parent.pid) - first) == 1,
            30,
            "a new child in place of the killed one",
        )
        assert len(children_of(parent.pid)) == 2
    finally:
        status = stop(parent)
    assert status == 0
    assert "died: signal 9; restarting" in log.read_text()


def test_a_bad_key_stops_worker_processes_before_any_is_forked(sqlite_app, tmp_path):
    log = tmp_path / "worker.log"
    parent = start_worker(
        sqlite_app,
        "--processes",
        "2",
        log=log,
        DKIM_DOMAIN="example.se",
        DKIM_ED25519_SELECTOR="ed",
        DKIM_ED25519_PRIVATE_KEY_PATH=tmp_path / "missing.pem",
    )
    assert parent.wait(timeout=30) == 1
    output = log.read_text()
    assert "Error: NEWSLETTER_DKIM_ED25519_PRIVATE_KEY_PATH: cannot read" in output
    assert "Traceback" not in output
    assert "worker process" not in output
