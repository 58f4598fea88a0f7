"""Managing the themed sections that items and subscriptions are organised by."""

from __future__ import annotations

from collections.abc import Sequence

from slugify import slugify
from sqlalchemy import func, select

from newsletter.database import get_row
from newsletter.errors import Conflict
from newsletter.extensions import db
from newsletter.models import Theme
from newsletter.services import audit

DEFAULT_THEMES = (
    ("barn-och-unga", "Barn och unga"),
    ("psykisk-halsa", "Psykisk hälsa"),
    ("aldre", "Äldre"),
)


class ThemeNameTaken(Conflict):
    """Another theme already has this name or slug."""


def list_themes(active_only: bool = False) -> Sequence[Theme]:
    """Return themes in display order."""
    query = select(Theme).order_by(Theme.position, Theme.id)
    if active_only:
        query = query.where(Theme.active.is_(True))
    return db.session.scalars(query).all()


def _name_taken(name: str, slug: str, exclude_id: int | None) -> bool:
    """Return whether another theme uses the name (any case) or the slug."""
    query = select(Theme.id).where(
        (func.lower(Theme.name) == name.lower()) | (Theme.slug == slug)
    )
    if exclude_id is not None:
        query = query.where(Theme.id != exclude_id)
    return db.session.scalar(query) is not None


def create_theme(name: str, description: str = "") -> Theme:
    """Add a theme at the end of the list."""
    slug = slugify(name, max_length=80) or "tema"
    if _name_taken(name, slug, None):
        raise ThemeNameTaken(name)
    last = db.session.scalar(select(func.max(Theme.position)))
    theme = Theme(
        name=name,
        slug=slug,
        description=description,
        position=0 if last is None else last + 1,
    )
    db.session.add(theme)
    db.session.flush()
    audit.record(
        "theme.created",
        "theme",
        theme.id,
        theme.name,
        audit.changes({}, {"name": name, "description": description}),
    )
    return theme


def rename_theme(theme_id: int, name: str, description: str) -> Theme:
    """Change a theme's display name and description; its slug (in URLs) stays."""
    theme = get_row(Theme, theme_id)
    if _name_taken(name, theme.slug, theme.id):
        raise ThemeNameTaken(name)
    before = {"name": theme.name, "description": theme.description}
    theme.name = name
    theme.description = description
    db.session.flush()
    audit.record(
        "theme.changed",
        "theme",
        theme.id,
        theme.name,
        audit.changes(before, {"name": name, "description": description}),
    )
    return theme


def move_theme(theme_id: int, step: int) -> None:
    """Move a theme one place up (-1) or down (+1)."""
    moving = get_row(Theme, theme_id)
    themes = list(list_themes())
    index = themes.index(moving)
    target = index + step
    before = moving.position
    if 0 <= target < len(themes):
        themes[index], themes[target] = themes[target], themes[index]
    for position, theme in enumerate(themes):
        theme.position = position
    db.session.flush()
    audit.record(
        "theme.moved",
        "theme",
        moving.id,
        moving.name,
        audit.changes({"position": before}, {"position": moving.position}),
    )


def set_theme_active(theme_id: int, active: bool) -> Theme:
    """Activate or deactivate a theme; existing items keep it."""
    theme = get_row(Theme, theme_id)
    before = theme.active
    theme.active = active
    db.session.flush()
    audit.record(
        "theme.activated" if active else "theme.deactivated",
        "theme",
        theme.id,
        theme.name,
        audit.changes({"active": before}, {"active": active}),
    )
    return theme


def ensure_default_themes() -> list[Theme]:
    """Create the default themes if there are no themes at all; return those made
    (the command that asks records them in the audit trail)."""
    if db.session.scalar(select(func.count(Theme.id))):
        return []
    made = [
        Theme(slug=slug, name=name, position=position)
        for position, (slug, name) in enumerate(DEFAULT_THEMES)
    ]
    db.session.add_all(made)
    db.session.flush()
    return made
