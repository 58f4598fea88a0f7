"""Corrections: a sent issue's item changed after the fact, with a public note.

The email already sent stays as it was; the archive and the feeds show the
corrected text and the note. No email is sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm.exc import StaleDataError

from newsletter.database import get_row
from newsletter.errors import DomainError, InvalidState
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, Item
from newsletter.models.review import Correction
from newsletter.models.states import Role
from newsletter.services import audit, history, revisions, search, settings
from newsletter.services.issues import EditConflict, ItemData, _links, _set_image

NOTE_MAX = 300


class NotSent(InvalidState):
    """Only a sent issue is corrected; a draft is changed in the editor."""


class NotAllowed(DomainError):
    """This role may not correct a sent issue now."""


class NoteRequired(DomainError):
    """A correction needs a short public note (at most NOTE_MAX characters)."""


def may_correct(role: str) -> bool:
    """Publishers and administrators correct; editors only without approval."""
    if role in (Role.ADMIN, Role.PUBLISHER):
        return True
    return role == Role.EDITOR and not settings.require_approval()


def sent_item(item_id: int) -> Item:
    """Return an item of a sent issue, or raise NotSent."""
    item = get_row(Item, item_id)
    if item.issue.status != IssueStatus.SENT:
        raise NotSent(item.issue.status)
    return item


def correct_item(
    item_id: int,
    expected_version: int,
    data: ItemData,
    note: str,
    now: datetime,
    *,
    role: str,
) -> Correction:
    """Correct a sent issue's item (text, title, contact, links, image; never its
    section) with a public note; stale versions raise EditConflict."""
    if not may_correct(role):
        raise NotAllowed(role)
    note = note.strip()
    if not note or len(note) > NOTE_MAX:
        raise NoteRequired(note)
    item = sent_item(item_id)
    if item.version != expected_version:
        raise EditConflict(item)
    before = history.item_fields(item)
    item.title = data.title
    item.body = data.body
    item.contact_name = data.contact_name
    item.contact_phone = data.contact_phone
    item.contact_email = data.contact_email
    item.updated_at = now
    item.links = _links(data.links)
    _set_image(item, data.image)
    try:
        db.session.flush()
    except StaleDataError:
        raise EditConflict(item) from None
    after = history.item_fields(item)
    changes = audit.changes(before, after)
    actor = audit.current_actor()
    correction = Correction(
        issue_id=item.issue_id,
        item_id=item.id,
        note=note,
        changes=changes,
        created_at=now,
        created_by=actor.label,
    )
    db.session.add(correction)
    revisions.keep(revisions.ITEM, item.id, item.issue_id, after)
    audit.record(
        "item.corrected",
        "item",
        item.id,
        item.title,
        {**changes, "note": [None, note]},
        actor=actor,
        at=now,
    )
    # The archive's cache stamp follows the issues' updated_at: pages and feeds
    # render afresh. The header's version stays (it is not a header edit).
    db.session.execute(
        update(Issue)
        .where(Issue.id == item.issue_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    search.index_issue(item.issue_id)  # the old text is found no more
    return correction


def for_issue(issue_id: int) -> Sequence[Correction]:
    """Return an issue's corrections, newest first."""
    return _newest_first(Correction.issue_id == issue_id)


def for_item(item_id: int) -> Sequence[Correction]:
    """Return an item's corrections, newest first."""
    return _newest_first(Correction.item_id == item_id)


def _newest_first(condition: ColumnElement[bool]) -> Sequence[Correction]:
    return db.session.scalars(
        select(Correction)
        .where(condition)
        .order_by(Correction.created_at.desc(), Correction.id.desc())
    ).all()


def last_change(issue: Issue) -> datetime | None:
    """When a published issue last changed: its newest correction, else its
    publication."""
    newest = next(iter(for_issue(issue.id)), None)
    return newest.created_at if newest is not None else issue.published_at


def newest_change(issues: Sequence[Issue]) -> datetime | None:
    """When the newest of these published issues last changed."""
    return max((t for t in map(last_change, issues) if t), default=None)
