"""Revisions: every save of an item or an issue header keeps its fields, numbered
per object, so that editors can compare two saves word by word and go back.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from newsletter.errors import Conflict, NotFound
from newsletter.extensions import db
from newsletter.models.review import Revision
from newsletter.models.types import utcnow
from newsletter.services import audit

ITEM = "item"
ISSUE = "issue"

# The fields a comparison shows, in order, by object type.
ITEM_FIELDS = ("title", "body", "contact", "links", "image")
ISSUE_FIELDS = ("title", "slug", "preheader", "intro")
# An item's image fields when it has none.
NO_IMAGE_FIELDS = {
    "image": "",
    "image_alt": "",
    "image_decorative": False,
    "image_width": None,
    "image_height": None,
}

_WORDS = re.compile(r"(\s+)")


@dataclass(frozen=True)
class Segment:
    """A run of text in a comparison: kept, inserted or deleted."""

    kind: str  # "same", "insert" or "delete"
    text: str


@dataclass(frozen=True)
class FieldDiff:
    """One field of two revisions compared word by word."""

    name: str
    changed: bool
    segments: list[Segment]


def _next_number(object_type: str, object_id: int) -> int:
    """The number after the object's last revision."""
    last = db.session.scalar(
        select(func.max(Revision.number)).where(
            Revision.object_type == object_type, Revision.object_id == object_id
        )
    )
    return (last or 0) + 1


def keep(
    object_type: str, object_id: int, issue_id: int, fields: Mapping[str, Any]
) -> Revision:
    """Keep one save of an object as its next numbered revision.

    Two saves of one object are serialised by its version check; should two
    ever number at once, the unique constraint refuses one and it takes the next
    number in a fresh savepoint.
    """
    actor = audit.current_actor()
    for _attempt in range(5):
        revision = Revision(
            object_type=object_type,
            object_id=object_id,
            issue_id=issue_id,
            number=_next_number(object_type, object_id),
            fields=dict(fields),
            created_at=utcnow(),
            created_by=actor.label,
            created_by_id=actor.editor_id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(revision)
        except IntegrityError:
            continue
        return revision
    raise Conflict(f"no free revision number for {object_type} {object_id}")


def forget(object_type: str, object_id: int) -> None:
    """Drop the revisions of an object that no longer exists (the audit trail
    keeps what happened to it)."""
    db.session.execute(
        delete(Revision).where(
            Revision.object_type == object_type, Revision.object_id == object_id
        )
    )


def for_object(object_type: str, object_id: int) -> Sequence[Revision]:
    """Return an object's revisions, newest first."""
    return db.session.scalars(
        select(Revision)
        .where(Revision.object_type == object_type, Revision.object_id == object_id)
        .order_by(Revision.number.desc())
    ).all()


def get(object_type: str, object_id: int, number: int) -> Revision:
    """Return one revision of an object, or raise NotFound."""
    revision = db.session.scalar(
        select(Revision).where(
            Revision.object_type == object_type,
            Revision.object_id == object_id,
            Revision.number == number,
        )
    )
    if revision is None:
        raise NotFound(f"{object_type} {object_id} revision {number}")
    return revision


def field_text(fields: Mapping[str, Any], name: str) -> str:
    """A field of a revision as the text a comparison shows."""
    if name == "contact":
        parts = (fields.get(f"contact_{part}") for part in ("name", "phone", "email"))
        return " ".join(str(part) for part in parts if part)
    if name == "image":
        return _image_text(fields)
    if name == "links":
        return "\n".join(f"{label} – {url}" for label, url in fields.get("links", []))
    value = fields.get(name)
    return "" if value is None else str(value)


def _image_text(fields: Mapping[str, Any]) -> str:
    """An item revision's image as a comparison shows it: its file and alt text."""
    image = fields.get("image") or ""
    if not image:
        return ""
    if fields.get("image_decorative"):
        decorative = _("decorative image")
        return f"{image} ({decorative})"
    return f"{image}: {fields.get('image_alt') or ''}"


def _segments(before: str, after: str) -> list[Segment]:
    """Compare two texts word by word (whitespace kept as it was)."""
    old, new = _WORDS.split(before), _WORDS.split(after)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    result: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result.append(Segment("same", "".join(old[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            result.append(Segment("delete", "".join(old[i1:i2])))
        if tag in ("insert", "replace"):
            result.append(Segment("insert", "".join(new[j1:j2])))
    return [segment for segment in result if segment.text]


def compare(
    object_type: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[FieldDiff]:
    """Compare two revisions' fields, field by field."""
    names = ITEM_FIELDS if object_type == ITEM else ISSUE_FIELDS
    diffs = []
    for name in names:
        old, new = field_text(before, name), field_text(after, name)
        diffs.append(FieldDiff(name, old != new, _segments(old, new)))
    return diffs
