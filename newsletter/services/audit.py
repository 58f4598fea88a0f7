"""The audit trail: every change of state appends who did what, to what, when.

Callers record within the transaction of the change itself, so an entry exists
exactly when the change was committed. The actor is taken from where the code
runs: a logged-in editor's request, another web request (a partner or a
subscriber), the command line (with the OS user) or the worker.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import has_request_context
from flask_login import current_user

from newsletter.extensions import db
from newsletter.models import AuditEvent
from newsletter.models.types import utcnow

# Never written into an entry, whatever a caller passes.
SECRET_FIELDS = frozenset(
    {
        "password",
        "password_hash",
        "token",
        "token_hash",
        "token_sealed",
        "edit_secret",
    }
)


@dataclass(frozen=True)
class Actor:
    """Who made a change."""

    kind: str  # "editor", "command", "worker", "partner" or "public"
    label: str = ""
    editor_id: int | None = None


WORKER = Actor("worker", "worker")


def command_line() -> Actor:
    """The person running a command, by OS user name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = ""
    return Actor("command", user)


def partner(organisation: str) -> Actor:
    """A contribution link's holder, named by the link's organisation."""
    return Actor("partner", organisation)


def current_actor() -> Actor:
    """The actor of the code that runs now."""
    if not has_request_context():
        return command_line()
    if current_user.is_authenticated:
        return Actor("editor", current_user.email, current_user.id)
    return Actor("public")


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a field value."""
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Return {field: [before, after]} for every field whose value differs (a field
    missing on one side is None there: a new or a removed row)."""
    fields = list(after) + [field for field in before if field not in after]
    return {
        field: [_plain(before.get(field)), _plain(after.get(field))]
        for field in fields
        if field not in SECRET_FIELDS and before.get(field) != after.get(field)
    }


def record(
    action: str,
    object_type: str,
    object_id: int | None,
    title: str = "",
    change: Mapping[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one entry to the session (committed with the change it records)."""
    who = actor or current_actor()
    event = AuditEvent(
        at=at or utcnow(),
        actor_kind=who.kind,
        actor_id=who.editor_id,
        actor=who.label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_title=title[:300],
        changes={k: v for k, v in (change or {}).items() if k not in SECRET_FIELDS},
    )
    db.session.add(event)
    return event
