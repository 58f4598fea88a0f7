"""What the public archive and the feeds show: published issues and their items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import selectinload

from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, Item, Theme

PER_PAGE = 10
FEED_SIZE = 20


# Published: sending has started and was not cancelled (a cancelled issue leaves
# the archive and the feeds).
PUBLIC = and_(Issue.published_at.is_not(None), Issue.status != IssueStatus.CANCELLED)


def published() -> Select[Issue]:
    """Issues that have been published (sending started), newest first."""
    return (
        select(Issue).where(PUBLIC).order_by(Issue.published_at.desc(), Issue.id.desc())
    )


@dataclass(frozen=True)
class Page:
    """One page of the archive index."""

    issues: Sequence[Issue]
    number: int
    pages: int


def index_page(number: int) -> Page | None:
    """Return a page of published issues (10 a page), None past the last page."""
    total = db.session.scalar(select(func.count(Issue.id)).where(PUBLIC)) or 0
    pages = max(1, -(-total // PER_PAGE))
    if not 1 <= number <= pages:
        return None
    issues = db.session.scalars(
        published().offset((number - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    return Page(issues, number, pages)


def published_issue(slug: str) -> Issue | None:
    """Return the published issue with this slug, or None."""
    return db.session.scalar(select(Issue).where(Issue.slug == slug, PUBLIC))


def latest_issues(limit: int = FEED_SIZE) -> Sequence[Issue]:
    """The newest published issues with their items, for a feed."""
    return db.session.scalars(
        published()
        .options(selectinload(Issue.items).selectinload(Item.links))
        .limit(limit)
    ).all()


def theme_by_slug(slug: str) -> Theme | None:
    """Return a theme by its slug."""
    return db.session.scalar(select(Theme).where(Theme.slug == slug))


def theme_items(
    theme_id: int, limit: int = 50, offset: int = 0
) -> list[tuple[Item, Issue]]:
    """A theme's items across published issues, newest issue first."""
    rows = db.session.execute(
        select(Item, Issue)
        .join(Issue, Issue.id == Item.issue_id)
        .where(Item.theme_id == theme_id, PUBLIC)
        .order_by(Issue.published_at.desc(), Issue.id.desc(), Item.position, Item.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [(item, issue) for item, issue in rows]


@dataclass(frozen=True)
class Neighbours:
    """The issues published just before and just after one issue."""

    previous: Issue | None
    next: Issue | None


def neighbours(issue: Issue) -> Neighbours:
    """Return the published issues before and after this one, by publication date."""
    published_at, issue_id = issue.published_at, issue.id
    earlier = db.session.scalar(
        published()
        .where(
            (Issue.published_at < published_at)
            | ((Issue.published_at == published_at) & (Issue.id < issue_id))
        )
        .limit(1)
    )
    later = db.session.scalar(
        select(Issue)
        .where(PUBLIC)
        .where(
            (Issue.published_at > published_at)
            | ((Issue.published_at == published_at) & (Issue.id > issue_id))
        )
        .order_by(Issue.published_at.asc(), Issue.id.asc())
        .limit(1)
    )
    return Neighbours(earlier, later)


THEME_PER_PAGE = 20


@dataclass(frozen=True)
class ThemePage:
    """One page of a theme's items across published issues."""

    rows: list[tuple[Item, Issue]]
    number: int
    pages: int


def theme_page(theme_id: int, number: int) -> ThemePage | None:
    """Return a page of a theme's items (20 a page), None past the last page."""
    total = (
        db.session.scalar(
            select(func.count(Item.id))
            .join(Issue, Issue.id == Item.issue_id)
            .where(Item.theme_id == theme_id, PUBLIC)
        )
        or 0
    )
    pages = max(1, -(-total // THEME_PER_PAGE))
    if not 1 <= number <= pages:
        return None
    rows = theme_items(
        theme_id, limit=THEME_PER_PAGE, offset=(number - 1) * THEME_PER_PAGE
    )
    return ThemePage(rows, number, pages)
