"""`flask worker --processes N`: forked workers sharing the queue, one parent that
forwards signals and restarts a child that dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from newsletter import create_app
from newsletter.extensions import db
from newsletter.models import Delivery, Issue
from newsletter.models.states import DeliveryStatus, IssueStatus
from newsletter.models.types import utcnow
from newsletter.services import sending
from newsletter.services.subscriber_import import ImportRow, import_subscribers
from tests.conftest import base_config, reset_schema
from tests.factories import make_issue, make_item, theme
from tests.smtp import Sink, SMTPServer

ROOT = Path(__file__).resolve().parent.parent


def start_workers(
    app, log: Path, *options: str, **settings: object
) -> subprocess.Popen:
    """Start `flask worker` with options on the app's database, logging to a file."""
    env = {
        **os.environ,
        "NEWSLETTER_SECRET_KEY": app.config["SECRET_KEY"],
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_BASE_URL": app.config["BASE_URL"],
        "NEWSLETTER_WORKER_IDLE_SECONDS": "0.1",
        **{f"NEWSLETTER_{k}": str(v) for k, v in settings.items()},
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )


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


def wait_for(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    """Poll until condition() is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def issue_for(app, count: int) -> int:  # noqa: ANN001
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


def stop(process: subprocess.Popen) -> int:
    """Send SIGTERM and return the exit status (killing the process if it hangs)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture
def postgres_app(postgres_url):
    """An app on the run's PostgreSQL database, with tables emptied first."""
    app = create_app(
        base_config(postgres_url, BASE_URL="https://nyhetsbrev.example.se")
    )
    reset_schema(app)
    yield app
    with app.app_context():
        db.engine.dispose()


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
    parent = start_workers(
        postgres_app,
        log,
        "--processes",
        "2",
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
        parent = start_workers(
            postgres_app,
            log,
            "--processes",
            "2",
            "--once",
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
    parent = start_workers(
        sqlite_app, log, "--processes", "2", SMTP_PORT=smtp_server.port
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
    parent = start_workers(
        sqlite_app,
        log,
        "--processes",
        "2",
        DKIM_DOMAIN="example.se",
        DKIM_ED25519_SELECTOR="ed",
        DKIM_ED25519_PRIVATE_KEY_PATH=tmp_path / "missing.pem",
    )
    assert parent.wait(timeout=30) == 1
    output = log.read_text()
    assert "Error: NEWSLETTER_DKIM_ED25519_PRIVATE_KEY_PATH: cannot read" in output
    assert "Traceback" not in output
    assert "worker process" not in output
