"""Statuses are enums; every move is in its lifecycle's table and made in one place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from newsletter.errors import InvalidState
from newsletter.extensions import db
from newsletter.models import (
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
from newsletter.models.states import DELIVERIES, ISSUES, MESSAGES, SUBSCRIBERS
from newsletter.models.types import utcnow
from newsletter.services import sending
from tests.factories import make_issue, make_item, make_subscriber

ROOT = Path(__file__).resolve().parent.parent
STATUS_ENUMS = (
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


@pytest.mark.parametrize(
    "table, column",
    [
        ("issue", "status"),
        ("delivery", "status"),
        ("outbound_message", "status"),
        ("subscriber", "status"),
        ("consent_event", "kind"),
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


def _python_sources() -> list[tuple[Path, ast.Module]]:
    """Parse every module of the package."""
    return [
        (path, ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted((ROOT / "newsletter").rglob("*.py"))
    ]


def _enum_bodies(tree: ast.Module) -> set[int]:
    """Return the ids of string constants that define enum members."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id == "StrEnum" for base in node.bases
        ):
            inside.update(id(child) for child in ast.walk(node))
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
