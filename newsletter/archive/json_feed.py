"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1) of the issues and of one theme:
the same entries, content and dates as the RSS and Atom feeds."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from flask import render_template
from flask_babel import format_date
from flask_babel import gettext as _
from markupsafe import escape

from newsletter.config import settings
from newsletter.content import clean_text
from newsletter.models import Issue, Item, Theme
from newsletter.services import corrections
from newsletter.services.identity import identity
from newsletter.web import item_heading, plain_text, summary

VERSION = "https://jsonfeed.org/version/1.1"


def _date(value: datetime | None) -> str | None:
    """An RFC 3339 date, as JSON Feed asks."""
    return value.isoformat() if value is not None else None


def _feed(title: str, home: str, feed: str, description: str) -> dict[str, Any]:
    """The top-level fields every one of our feeds carries (named as the
    organisation's identity settings name the RSS and Atom feeds)."""
    base = settings().base_url
    organisation = identity().organisation
    return {
        "version": VERSION,
        "title": title,
        "home_page_url": base + home,
        "feed_url": base + feed,
        "description": description,
        "language": "sv",
        "authors": [{"name": organisation, "url": base + "/"}],
        "items": [],
    }


def _dump(feed: dict[str, Any]) -> str:
    """Serialise, keeping Swedish letters readable; no stored control characters."""
    return clean_text(json.dumps(feed, ensure_ascii=False, indent=1))


def _content(template: str, **context: object) -> str:
    """Render a feed fragment as HTML (its text is already sanitised)."""
    return render_template(template, base=settings().base_url, **context).strip()


def _corrections_summary(issue: Issue) -> str:
    """The issue's plain summary, after the notes of its corrections (as in Atom)."""
    notes = [
        _(
            "Corrected %(date)s: %(note)s",
            date=format_date(correction.created_at, "long"),
            note=correction.note,
        )
        for correction in corrections.for_issue(issue.id)
    ]
    return " ".join([*notes, summary(issue)])


def issues_feed(
    issues: Sequence[Issue],
    sections: Callable[[Issue], object],
) -> str:
    """The issues, newest first, with their full HTML content."""
    look = identity()
    # As in RSS and Atom: without a description or tagline of their own, the
    # feeds keep saying what the newsletter is about.
    description = (
        look.feed_summary
        if look.feed_description or look.tagline
        else "{}: {}".format(
            look.organisation,
            _("news on children and young people, mental health and the elderly."),
        )
    )
    feed = _feed(look.feed_heading, "/", "/feed.json", description)
    base = settings().base_url
    for issue in issues:
        url = f"{base}/archive/{issue.slug}"
        content = _content(
            "feeds/_issue_content.html",
            issue=issue,
            sections=sections,
            corrections_of=corrections.for_issue,
        )
        entry: dict[str, Any] = {
            "id": url,
            "url": url,
            "title": issue.title,
            "summary": _corrections_summary(issue),
            "date_published": _date(issue.published_at),
            "date_modified": _date(corrections.last_change(issue)),
        }
        if content:
            entry["content_html"] = content
        else:
            entry["content_text"] = entry["summary"]
        feed["items"].append(entry)
    return _dump(feed)


def theme_feed(theme: Theme, rows: Sequence[tuple[Item, Issue]]) -> str:
    """One theme's items, newest issue first, each linking to its place in its issue."""
    feed = _feed(
        f"{identity().feed_heading}: {theme.name}",
        f"/themes/{theme.slug}",
        f"/themes/{theme.slug}/feed.json",
        theme.description or theme.name,
    )
    base = settings().base_url
    for item, issue in rows:
        url = f"{base}/archive/{issue.slug}#item-{item.id}"
        content = _content(
            "feeds/_theme_item_content.html", item=item, issue=issue, theme=theme
        )
        feed["items"].append(
            {
                "id": url,
                "url": url,
                "title": item_heading(item),
                "summary": plain_text(item.body) or item_heading(item),
                "content_html": content or str(escape(item_heading(item))),
                "date_published": _date(issue.published_at),
            }
        )
    return _dump(feed)
