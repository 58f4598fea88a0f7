"""Statuses are enums; every move is in its lifecycle's table and made in one place."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from newsletter.errors import InvalidState
from newsletter.extensions import db
from newsletter.mail import queue
from newsletter.models import (
    Bounce,
    BounceKind,
    ConsentEvent,
    ConsentKind,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    MessageStatus,
    OutboundMessage,
    Subscriber,
    SubscriberStatus,
)
from newsletter.models.states import DELIVERIES, ISSUES, MESSAGES, SUBSCRIBERS, move
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.factories import make_issue, make_item, make_subscriber

ROOT = Path(__file__).resolve().parent.parent
STATUS_ENUMS = (
    BounceKind,
    IssueStatus,
    DeliveryStatus,
    MessageStatus,
    SubscriberStatus,
    ConsentKind,
)
STATUS_VALUES = {member.value for enum in STATUS_ENUMS for member in enum}


def sent_issue_with_deliveries() -> int:
    """An issue sent to one subscriber, its delivery row marked sent."""
    issue = make_issue()
    make_item(issue, "aldre")
    make_subscriber()
    sending.start_sending(issue.id, utcnow())
    sending.fan_out(issue.id, utcnow())
    db.session.execute(db.update(Delivery).values(status=DeliveryStatus.SENT))
    sending.finish_completed_issues(utcnow())
    db.session.commit()
    return issue.id


def test_the_issue_table_has_no_move_from_sent_back_to_draft():
    with pytest.raises(InvalidState):
        ISSUES.step(IssueStatus.SENT, to=IssueStatus.DRAFT)


def test_the_delivery_table_has_no_move_from_sent_back_to_queued():
    with pytest.raises(InvalidState):
        DELIVERIES.step(DeliveryStatus.SENT, to=DeliveryStatus.QUEUED)


def test_a_sent_issue_cannot_be_unscheduled_back_to_a_draft(app):
    with app.app_context():
        issue_id = sent_issue_with_deliveries()
        with pytest.raises(InvalidState):
            sending.unschedule(issue_id)
        db.session.rollback()
        assert db.session.get(Issue, issue_id).status == IssueStatus.SENT


def test_a_sent_delivery_is_not_queued_again_by_the_failed_deliveries_step(app):
    with app.app_context():
        issue_id = sent_issue_with_deliveries()
        delivery = db.session.scalar(db.select(Delivery))
        with pytest.raises(InvalidState):
            move(delivery, queue.REQUEUE_FAILED)
        assert sending.retry_failed(issue_id, utcnow()) == 0
        db.session.commit()
        assert db.session.get(Delivery, delivery.id).status == DeliveryStatus.SENT


@pytest.mark.parametrize(
    "table, column",
    [
        ("issue", "status"),
        ("delivery", "status"),
        ("outbound_message", "status"),
        ("subscriber", "status"),
        ("consent_event", "kind"),
        ("bounce", "kind"),
    ],
)
def test_the_database_refuses_an_unknown_status(app, table, column):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        subscriber = make_subscriber()
        sending.start_sending(issue.id, utcnow())
        sending.fan_out(issue.id, utcnow())
        sending.queue_test_send(issue.id, ["test@example.se"], "sv")
        db.session.add(
            ConsentEvent(
                subscriber_id=subscriber.id, kind=ConsentKind.REQUESTED, at=utcnow()
            )
        )
        db.session.add(Bounce(subscriber_id=subscriber.id, kind=BounceKind.SOFT))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text(f"UPDATE {table} SET {column} = 'archived'"))
        db.session.rollback()


def test_a_status_read_from_the_database_is_a_member_of_its_enum(app):
    with app.app_context():
        subscriber_id = make_subscriber(status="pending").id
        db.session.expire_all()
        status = db.session.get(Subscriber, subscriber_id).status
        assert type(status) is SubscriberStatus
        assert status is SubscriberStatus.PENDING


def test_new_rows_start_in_a_state_their_lifecycle_starts_in():
    for model, lifecycle in (
        (Issue, ISSUES),
        (Delivery, DELIVERIES),
        (OutboundMessage, MESSAGES),
        (Subscriber, SUBSCRIBERS),
    ):
        default = model.__table__.c.status.default.arg
        assert default in lifecycle.start, model.__name__


def test_cancel_records_the_time_it_was_given(app):
    cancelled_at = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        sending.start_sending(issue.id, utcnow())
        db.session.commit()
        sending.cancel(issue.id, cancelled_at)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Issue, issue.id).updated_at == cancelled_at


def test_skip_queued_skips_only_queued_deliveries_and_says_why(app):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        make_subscriber("a@example.se")
        make_subscriber("b@example.se")
        sending.start_sending(issue.id, utcnow())
        sending.fan_out(issue.id, utcnow())
        first = db.session.scalar(db.select(Delivery).order_by(Delivery.id))
        first.status = DeliveryStatus.SENT
        db.session.commit()
        assert queue.skip_queued(issue.id, "the reason") == 1
        db.session.commit()
        rows = db.session.execute(
            db.select(Delivery.status, Delivery.last_error).order_by(Delivery.id)
        ).all()
        assert rows == [("sent", ""), ("skipped", "the reason")]


def test_requeue_failed_queues_failed_deliveries_due_now_with_fresh_attempts(app):
    now = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        make_subscriber()
        sending.start_sending(issue.id, utcnow())
        sending.fan_out(issue.id, utcnow())
        db.session.execute(
            db.update(Delivery).values(
                status=DeliveryStatus.FAILED, attempts=3, last_error="550 no"
            )
        )
        db.session.commit()
        assert queue.requeue_failed(issue.id, now) == 1
        db.session.commit()
        row = db.session.scalar(db.select(Delivery))
        assert (row.status, row.attempts, row.last_error) == ("queued", 0, "")
        assert row.next_attempt_at == now


def _python_sources() -> list[tuple[Path, ast.Module]]:
    """Parse every module of the package."""
    return [
        (path, ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted((ROOT / "newsletter").rglob("*.py"))
    ]


def _enum_bodies(tree: ast.Module) -> set[int]:
    """Return the ids of string constants that define enum members, or that name
    something else (a blueprint called "sending")."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id == "StrEnum" for base in node.bases
        ):
            inside.update(id(child) for child in ast.walk(node))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Blueprint"
            and node.args
        ):
            inside.add(id(node.args[0]))
    return inside


def test_no_status_is_written_as_a_bare_string_in_the_code():
    found = []
    for path, tree in _python_sources():
        members = _enum_bodies(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and node.value in STATUS_VALUES
                and id(node) not in members
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []


def test_no_template_compares_a_status_with_a_bare_string():
    comparison = re.compile(r"status\s*(==|!=|in)\s*\(?\s*[\"']")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in comparison.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_only_move_sets_the_status_of_a_loaded_row():
    found = set()
    for path, tree in _python_sources():
        for node in ast.walk(tree):
            for target in node.targets if isinstance(node, ast.Assign) else []:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "status"
                    and ast.unparse(target.value) != "self"  # an exception's field
                ):
                    found.add(str(path.relative_to(ROOT)))
    assert found == {"newsletter/models/states.py"}


def _innermost_call(node: ast.AST) -> ast.Call | None:
    """Follow a chain like update(X).where(...).values(...) down to update(X)."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return node if isinstance(node, ast.Call) else None


def test_every_delivery_and_message_status_change_is_in_the_queue_module():
    writers = set()
    for path, tree in _python_sources():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "values"
                and any(keyword.arg == "status" for keyword in node.keywords)
            ):
                continue
            inner = _innermost_call(node)
            target = inner.args[0] if inner is not None and inner.args else None
            name = ast.unparse(target) if target is not None else "?"
            if name in ("Delivery", "OutboundMessage", "model", "table"):
                writers.add(str(path.relative_to(ROOT)))
    assert writers == {"newsletter/mail/queue.py"}
