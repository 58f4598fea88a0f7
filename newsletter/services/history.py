"""Every change to an issue's content passes here, in the transaction of the change.

The issues service calls `changed` once per save, with what changed; this module
keeps what the organisation needs to know of it: who changed the issue last, an
audit entry (who, what, when, the fields before and after), a revision of each
save, and the end of an approval the change came after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from newsletter.content import one_line_ending
from newsletter.extensions import db
from newsletter.models import Issue, Item
from newsletter.services import audit, review, revisions

# The saves that keep a revision (with the fields after the save).
REVISED = frozenset({"item.added", "item.changed", "issue.created", "issue.changed"})


def item_fields(item: Item) -> dict[str, Any]:
    """The fields of an item as a revision and the audit trail compare them."""
    return {
        "title": item.title,
        "body": _as_saved(item.body),
        "theme_id": item.theme_id,
        "contact_name": item.contact_name,
        "contact_phone": item.contact_phone,
        "contact_email": item.contact_email,
        "links": [[link.label, link.url] for link in item.links],
        "image": item.image,
        "image_alt": item.image_alt,
        "image_decorative": item.image_decorative,
        "image_width": item.image_width,
        "image_height": item.image_height,
    }


def _as_saved(text: str | None) -> str | None:
    """Text as a form saves it now: text saved with CR LF before line endings were
    made one compares equal to the same text sent again."""
    return one_line_ending(text) if text is not None else None


def issue_fields(issue: Issue) -> dict[str, Any]:
    """The header fields of an issue."""
    return {
        "title": issue.title,
        "slug": issue.slug,
        "intro": _as_saved(issue.intro),
        "preheader": issue.preheader,
    }


def changed(
    issue: Issue,
    action: str,
    object_type: str,
    object_id: int | None,
    title: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> None:
    """Record one change to an issue's content (its header, an item, a section).

    A save that changed nothing records nothing: no entry, no revision, and an
    approval stays.
    """
    change = audit.changes(before, after)
    if not change:
        return
    actor = audit.current_actor()
    if actor.editor_id is not None and issue.last_editor_id != actor.editor_id:
        # A statement, not an attribute: the header's version must not change
        # when an item does (an open header form would conflict).
        db.session.execute(
            update(Issue)
            .where(Issue.id == issue.id)
            .values(last_editor_id=actor.editor_id)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(issue, "last_editor_id", actor.editor_id)
    audit.record(action, object_type, object_id, title, change, actor=actor)
    # Approval is of the content as it was: any change takes it back.
    review.withdraw_approval(issue, actor, object_type, title)
    if action in REVISED and object_id is not None:
        revisions.keep(object_type, object_id, issue.id, after)
    elif action == "item.deleted" and object_id is not None:
        # SQLite may give the next item this id: it must not inherit the history.
        revisions.forget(object_type, object_id)
