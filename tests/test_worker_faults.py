"""Faults inside a batch: a worker records them, gives the rows back and backs off;
it never spins, and never leaves a row leased that nobody will send."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from newsletter.extensions import db
from newsletter.mail.transport import MemoryTransport
from newsletter.mail.worker import Worker
from newsletter.models import DeliveryStatus
from tests.conftest import base_config, build_app, reset_schema
from tests.test_shared_limits import deliveries, issue_queued_for, run_briefly


class Choking(MemoryTransport):
    """Accepts every message but one, on which the sending code raises."""

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Raise for one recipient as smtplib does for an address it cannot use."""
        if recipient == "s03@example.se":
            raise ValueError("the address holds a line break")
        super().send(sender, recipient, message)


@pytest.mark.real_commits
@pytest.mark.parametrize("connections", [1, 2])
def test_a_message_the_sender_chokes_on_fails_alone_and_the_rest_goes_out(
    make_app, connections
):
    app = make_app(SMTP_CONNECTIONS=connections)
    issue_queued_for(app, 6)
    transport = Choking()
    assert run_briefly(Worker(app, transport_factory=lambda: transport))
    assert len(transport.sent) == 5
    rows = {d.id: d for d in deliveries(app)}
    failed = [d for d in rows.values() if d.status == DeliveryStatus.FAILED]
    assert len(failed) == 1
    assert failed[0].last_error.startswith("send: the address holds a line break")
    assert not [d for d in rows.values() if d.leased_by is not None]


def test_a_failed_slot_reservation_gives_the_batch_back_and_fails_the_round(
    tmp_path,
):
    app = build_app(
        base_config(f"sqlite:///{tmp_path / 'faults.sqlite3'}", RATE_PER_SECOND=5)
    )
    reset_schema(app)
    issue_queued_for(app, 3)
    with app.app_context():
        db.session.execute(text("DROP TABLE send_rate"))  # a migration not yet run
        db.session.commit()
    transport = MemoryTransport()
    worker = Worker(app, transport_factory=lambda: transport)
    try:
        # The round fails, so the worker's loop backs off instead of trying again
        # at once, round after round.
        with pytest.raises(SQLAlchemyError):
            worker.tick()
    finally:
        worker.close()
        with app.app_context():
            db.engine.dispose()
    assert transport.sent == []
    for row in deliveries(app):
        assert row.status == DeliveryStatus.QUEUED
        assert row.leased_by is None and row.attempts == 0
