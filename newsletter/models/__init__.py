"""Database models, one module per aggregate."""

from newsletter.models.editor import Editor
from newsletter.models.issue import ISSUE_STATUSES, Issue, Item, Link, Theme

__all__ = ["ISSUE_STATUSES", "Editor", "Issue", "Item", "Link", "Theme"]
