"""Organisation settings administrators change in the app, kept in `Setting` rows.

A setting without a row has its built-in default; choosing "automatic" removes
the row, so the default applies again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import Editor, Role
from newsletter.models.review import Setting
from newsletter.services import audit

REQUIRE_APPROVAL = "REQUIRE_APPROVAL"
# With this many active publishers an issue needs a second person's approval
# unless an administrator chose otherwise.
PUBLISHERS_FOR_APPROVAL = 2


def stored(key: str) -> Any:
    """Return a setting's stored value, or None when it has its default."""
    row = db.session.get(Setting, key)
    return None if row is None else row.value


def active_publishers() -> int:
    """Count active accounts with the publisher role (administrators not counted)."""
    return (
        db.session.scalar(
            select(func.count(Editor.id)).where(
                Editor.active.is_(True), Editor.role == Role.PUBLISHER
            )
        )
        or 0
    )


def require_approval() -> bool:
    """Whether an issue must be approved before it goes to more than its editor."""
    value = stored(REQUIRE_APPROVAL)
    if isinstance(value, bool):
        return value
    return active_publishers() >= PUBLISHERS_FOR_APPROVAL


def set_setting(key: str, value: Any, by: str) -> None:
    """Store a setting (None: back to its default), audited as setting.changed."""
    before = stored(key)
    if before == value:
        return
    row = db.session.get(Setting, key)
    if value is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Setting(key=key, value=value, updated_by=by))
    else:
        row.value = value
        row.updated_by = by
    audit.record("setting.changed", "setting", None, key, {key: [before, value]})
    db.session.flush()
