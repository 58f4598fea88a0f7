"""Editor accounts: creation, authentication, roles."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from newsletter.content import clean_text
from newsletter.database import get_row
from newsletter.errors import Conflict, InvalidState
from newsletter.extensions import db
from newsletter.models import Editor, Role
from newsletter.models.editor import spend_password_check_time
from newsletter.models.types import utcnow
from newsletter.services import audit

MIN_PASSWORD_LENGTH = 10


class EditorExists(Conflict):
    """An account with this address already exists."""


class LastAdmin(InvalidState):
    """The change would leave no active admin."""


def normalise_email(email: str) -> str:
    """Return the address as it is stored: without control characters, trimmed and
    lower-cased; authentication and the login limits both read addresses so."""
    return clean_text(email).strip().lower()


def create_editor(email: str, name: str, password: str, *, role: Role) -> Editor:
    """Create an account with a role (the audit trail never holds the password)."""
    email = normalise_email(email)
    if db.session.scalar(select(Editor.id).where(Editor.email == email)):
        raise EditorExists(email)
    editor = Editor(email=email, name=name.strip(), role=role, active=True)
    editor.set_password(password)
    db.session.add(editor)
    db.session.flush()
    audit.record(
        "editor.created",
        "editor",
        editor.id,
        editor.name,
        audit.changes({}, _account_fields(editor)),
    )
    return editor


def _account_fields(editor: Editor) -> dict[str, str | bool]:
    """The fields of an account the audit trail follows."""
    return {
        "email": editor.email,
        "name": editor.name,
        "role": str(editor.role),
        "active": editor.active,
    }


def authenticate(email: str, password: str) -> Editor | None:
    """Return the active editor with these credentials, or None, in constant work."""
    editor = db.session.scalar(
        select(Editor).where(Editor.email == normalise_email(email))
    )
    if editor is None:
        spend_password_check_time(password)
        return None
    if not editor.check_password(password) or not editor.active:
        return None
    editor.last_login_at = utcnow()
    return editor


def list_editors() -> Sequence[Editor]:
    """Return every editor account by name."""
    return db.session.scalars(select(Editor).order_by(Editor.name, Editor.id)).all()


def _active_admins(excluding: int) -> int:
    """Count active admins other than one editor."""
    return (
        db.session.scalar(
            select(func.count(Editor.id)).where(
                Editor.role == Role.ADMIN,
                Editor.active.is_(True),
                Editor.id != excluding,
            )
        )
        or 0
    )


def update_editor(editor_id: int, *, role: Role, active: bool) -> Editor:
    """Change an account's role and whether it may log in; there is always at
    least one active administrator."""
    editor = get_row(Editor, editor_id)
    stays_admin = role == Role.ADMIN and active
    if editor.is_admin and editor.active and not stays_admin:
        if _active_admins(excluding=editor.id) == 0:
            raise LastAdmin(editor.email)
    before = _account_fields(editor)
    editor.role = role
    editor.active = active
    db.session.flush()
    change = audit.changes(before, _account_fields(editor))
    if change:
        deactivated = before["active"] and not active
        action = "editor.deactivated" if deactivated else "editor.changed"
        audit.record(action, "editor", editor.id, editor.name, change)
    return editor


def end_sessions(editor_id: int) -> None:
    """End every session and remember-me cookie of an editor (at logout)."""
    editor = get_row(Editor, editor_id)
    editor.session_version += 1
    db.session.flush()


def set_password(editor_id: int, password: str) -> Editor:
    """Replace an editor's password."""
    editor = get_row(Editor, editor_id)
    editor.set_password(password)
    db.session.flush()
    return editor
