"""Small factories for test data; each commits so that other clients see it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Editor, Issue, Item, Role, Subscriber, Theme
from newsletter.services import editors, issues
from newsletter.services.issues import ItemData, LinkData

PASSWORD = "correct horse battery"


def make_editor(
    email: str = "editor@example.se",
    name: str = "Eva Editor",
    is_admin: bool = False,
    password: str = PASSWORD,
    role: Role | None = None,
) -> Editor:
    """Create an account: an editor, an administrator, or of the role given."""
    chosen = role or (Role.ADMIN if is_admin else Role.EDITOR)
    editor = editors.create_editor(email, name, password, role=chosen)
    db.session.commit()
    return editor


def theme(slug: str) -> Theme:
    """Return a theme by slug."""
    found = db.session.scalar(select(Theme).where(Theme.slug == slug))
    assert found is not None, slug
    return found


def make_issue(title: str = "Nyhetsbrev februari 2026", **fields: Any) -> Issue:
    """Create a draft issue."""
    issue = issues.create_issue(
        title=title,
        intro=fields.pop("intro", ""),
        preheader=fields.pop("preheader", ""),
        slug=fields.pop("slug", ""),
        editor="Test",
    )
    for name, value in fields.items():
        setattr(issue, name, value)
    db.session.commit()
    return issue


def make_item(
    issue: Issue,
    theme_slug: str = "psykisk-halsa",
    title: str = "Konferens om ungas psykiska hälsa",
    links: list[tuple[str, str]] | None = None,
    **fields: Any,
) -> Item:
    """Add an item to a section of an issue."""
    data = ItemData(
        title=title,
        theme_id=theme(theme_slug).id,
        links=[LinkData(label, url) for label, url in (links or [])],
        **fields,
    )
    item = issues.add_item(issue.id, data, "Test")
    db.session.commit()
    return item


def make_subscriber(
    email: str = "anna@example.se",
    name: str = "Anna Andersson",
    themes: tuple[str, ...] = ("barn-och-unga", "psykisk-halsa", "aldre"),
    status: str = "confirmed",
    language: str = "sv",
) -> Subscriber:
    """Create a subscriber with chosen themes."""
    subscriber = Subscriber(
        email=email,
        name=name,
        status=status,
        language=language,
        themes=[theme(slug) for slug in themes],
    )
    db.session.add(subscriber)
    db.session.commit()
    return subscriber
