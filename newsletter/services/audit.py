"""The audit trail: every change of state appends who did what, to what, when.

Callers record within the transaction of the change itself, so an entry exists
exactly when the change was committed. The actor is taken from where the code
runs: a logged-in editor's request, another web request (a partner or a
subscriber), the command line (with the OS user) or the worker.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g, has_app_context, has_request_context
from flask_login import current_user
from sqlalchemy import Select, String, cast, event, func, or_, select, update
from sqlalchemy.orm import Session

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


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Record the changes made inside under actor's name, not the OS user's: the
    demo's content is its named editor's work."""
    outer = g.get("audit_actor")
    g.audit_actor = actor
    try:
        yield
    finally:
        g.audit_actor = outer


def current_actor() -> Actor:
    """The actor of the code that runs now."""
    chosen = g.get("audit_actor") if has_app_context() else None
    if isinstance(chosen, Actor):
        return chosen
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


class AppendOnly(Exception):
    """Raised when code tries to change or delete an audit entry."""


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Entries are appended, never edited or deleted through the ORM."""
    for row in (*session.dirty, *session.deleted):
        if isinstance(row, AuditEvent) and (
            row in session.deleted or session.is_modified(row)
        ):
            raise AppendOnly(f"audit entry {row.id} cannot change")


# Characters an address may hold around the part that matched: a match inside a
# longer address (a@example.se in anna@example.se) is another person's.
_ADDRESS_CHARACTER = r"[\w.!#$%&'*+/=?^`{|}~@-]"


def _whole(address: str) -> re.Pattern[str]:
    """A pattern matching the address only where it stands whole."""
    return re.compile(
        rf"(?<!{_ADDRESS_CHARACTER}){re.escape(address)}(?!{_ADDRESS_CHARACTER})",
        re.IGNORECASE,
    )


def _replace(value: Any, address: str, replacement: str) -> Any:
    """A JSON value with every whole occurrence of an address replaced."""
    if isinstance(value, str):
        return _whole(address).sub(lambda _m: replacement, value)
    if isinstance(value, list):
        return [_replace(item, address, replacement) for item in value]
    if isinstance(value, dict):
        return {k: _replace(v, address, replacement) for k, v in value.items()}
    return value


def forget_address(address: str, replacement: str, batch: int = 500) -> int:
    """Replace an erased subscriber's address in old entries (who, title, the
    changed values) with its suppression hash; return how many entries changed.

    The one path that rewrites entries: erasure outranks the trail's history.
    """
    if not address:
        return 0
    # JSON text escapes non-ASCII characters on some engines: look for both forms.
    escaped = json.dumps(address)[1:-1]
    text = cast(AuditEvent.changes, String)
    candidates = or_(
        AuditEvent.actor.contains(address, autoescape=True),
        AuditEvent.object_title.contains(address, autoescape=True),
        text.contains(address, autoescape=True),
        text.contains(escaped, autoescape=True),
    )
    changed = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(
                AuditEvent.id,
                AuditEvent.actor,
                AuditEvent.object_title,
                AuditEvent.changes,
            )
            .where(candidates, AuditEvent.id > last_id)
            .order_by(AuditEvent.id)
            .limit(batch)
        ).all()
        if not rows:
            return changed
        last_id = rows[-1].id
        rewritten = [
            {
                "id": row.id,
                "actor": _replace(row.actor, address, replacement),
                "object_title": _replace(row.object_title, address, replacement)[:300],
                "changes": _replace(row.changes or {}, address, replacement),
            }
            for row in rows
        ]
        db.session.execute(update(AuditEvent), rewritten)
        changed += len(rewritten)


def forget_image_alt(item_ids: Collection[int], alts: Collection[str]) -> int:
    """Blank an erased picture's alt texts (which may describe the person shown) in
    the changed values of these items' entries; return how many entries changed.

    The other path that rewrites entries, for the same reason as forget_address."""
    alts = {alt for alt in alts if alt}
    if not item_ids or not alts:
        return 0
    rows = db.session.execute(
        select(AuditEvent.id, AuditEvent.changes).where(
            AuditEvent.object_type == "item", AuditEvent.object_id.in_(item_ids)
        )
    ).all()
    rewritten = [
        {"id": row.id, "changes": changes}
        for row in rows
        if (changes := without_alts(row.changes or {}, alts)) != row.changes
    ]
    if rewritten:
        db.session.execute(update(AuditEvent), rewritten)
    return len(rewritten)


def without_alts(changes: Mapping[str, Any], alts: Collection[str]) -> dict[str, Any]:
    """Changed values with these alt texts blanked."""
    value = changes.get("image_alt")
    if not isinstance(value, list):
        return dict(changes)
    return {**changes, "image_alt": ["" if v in alts else v for v in value]}


PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page shows: every field narrows the entries (empty: any)."""

    actor: str = ""
    object_type: str = ""
    object_id: int | None = None
    action: str = ""
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC

    def apply(self, statement: Select[Any]) -> Select[Any]:
        """Add the filter's conditions to a query of entries."""
        if self.actor:
            statement = statement.where(
                AuditEvent.actor.contains(self.actor, autoescape=True)
            )
        if self.object_type:
            statement = statement.where(AuditEvent.object_type == self.object_type)
        if self.object_id is not None:
            statement = statement.where(AuditEvent.object_id == self.object_id)
        if self.action:
            statement = statement.where(
                AuditEvent.action.startswith(self.action, autoescape=True)
            )
        if self.since is not None:
            statement = statement.where(AuditEvent.at >= self.since)
        if self.until is not None:
            statement = statement.where(AuditEvent.at < self.until)
        return statement


def search(wanted: AuditFilter, page: int) -> tuple[list[AuditEvent], int]:
    """One page of matching entries, newest first, and how many match in all."""
    total = db.session.scalar(wanted.apply(select(func.count(AuditEvent.id)))) or 0
    rows = db.session.scalars(
        wanted.apply(select(AuditEvent))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return list(rows), total


def object_types() -> list[str]:
    """The kinds of object entries name, for the filter's choice."""
    return list(
        db.session.scalars(
            select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)
        )
    )


def all_matching(wanted: AuditFilter) -> Iterator[AuditEvent]:
    """Every matching entry, newest first, read in batches (for the export)."""
    result = db.session.scalars(
        wanted.apply(select(AuditEvent))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .execution_options(yield_per=1000)
    )
    yield from result


def describe(change: Mapping[str, Any], limit: int = 80) -> list[tuple[str, str, str]]:
    """The changed fields as (field, before, after), long values shortened."""

    def short(value: Any) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    rows = []
    for field, values in change.items():
        if isinstance(values, list) and len(values) == 2:
            rows.append((field, short(values[0]), short(values[1])))
        else:
            rows.append((field, "", short(values)))
    return rows
