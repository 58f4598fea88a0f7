"""Pages, emails and the command line name statuses from one module, in Swedish."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from flask import Flask
from flask_babel import force_locale

from newsletter import labels
from newsletter.models import (
    ConsentKind,
    DeliveryStatus,
    IssueStatus,
    SubscriberStatus,
)

LABELLED: dict[str, tuple[Callable[[str], str], Iterable[str]]] = {
    "issue status": (labels.status_label, IssueStatus),
    "subscriber status": (labels.subscriber_status, SubscriberStatus),
    "delivery status": (labels.delivery_status, DeliveryStatus),
    "consent event": (labels.consent_kind, ConsentKind),
}


@pytest.mark.parametrize("kind", LABELLED)
def test_every_status_and_consent_event_has_a_swedish_label(
    sqlite_app: Flask, kind: str
) -> None:
    """No raw database value reaches a Swedish reader."""
    label, values = LABELLED[kind]
    with sqlite_app.app_context(), force_locale("sv"):
        for value in values:
            assert label(value) != value, (kind, value)


def test_pages_and_the_command_line_share_the_issue_status_labels(
    sqlite_app: Flask,
) -> None:
    """The template filter is the labels module's function, not a copy of it."""
    from newsletter import cli

    assert sqlite_app.jinja_env.filters["status_label"] is labels.status_label
    assert cli.status_label is labels.status_label
