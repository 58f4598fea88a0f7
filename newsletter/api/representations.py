"""The public archive as JSON: what the archive pages show, nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import url_for

from newsletter.config import settings
from newsletter.content import render_markdown
from newsletter.models import Correction, Issue, Item, Theme
from newsletter.services import media
from newsletter.services.archive import Page
from newsletter.services.issues import Section


def absolute(endpoint: str, **values: Any) -> str:
    """An address on this site, from BASE_URL (not from the request's Host)."""
    return settings().base_url + url_for(endpoint, **values)


def stamp(value: datetime | None) -> str | None:
    """A UTC time in ISO 8601, or None."""
    return value.isoformat() if value is not None else None


def _contact(holder: Any) -> dict[str, str] | None:
    """The published contact of an item or a theme section, or None."""
    if holder is None or not holder.has_contact:
        return None
    return {
        "name": holder.contact_name,
        "phone": holder.contact_phone,
        "email": holder.contact_email,
    }


def theme(record: Theme) -> dict[str, Any]:
    """A theme as the archive shows it; active themes can be subscribed to."""
    return {
        "slug": record.slug,
        "name": record.name,
        "description": record.description,
        "active": record.active,
        "url": absolute("archive.theme", slug=record.slug),
        "feed": absolute("archive.theme_rss", slug=record.slug),
    }


def issue_summary(record: Issue) -> dict[str, Any]:
    """An issue in a list: enough to show a link to it."""
    return {
        "slug": record.slug,
        "title": record.title,
        "preheader": record.preheader,
        "published_at": stamp(record.published_at),
        "permalink": absolute("archive.issue", slug=record.slug),
        "url": absolute("api.issue", slug=record.slug),
    }


def issue_page(page: Page) -> dict[str, Any]:
    """One page of the issue list with links to its neighbours."""

    def link(number: int) -> str:
        return absolute("api.issues", page=number)

    links: dict[str, str] = {
        "self": link(page.number),
        "first": link(1),
        "last": link(page.pages),
    }
    if page.number > 1:
        links["prev"] = link(page.number - 1)
    if page.number < page.pages:
        links["next"] = link(page.number + 1)
    return {
        "issues": [issue_summary(i) for i in page.issues],
        "page": page.number,
        "pages": page.pages,
        "links": links,
    }


def _correction(record: Correction) -> dict[str, Any]:
    return {
        "note": record.note,
        "at": stamp(record.created_at),
        "item_id": record.item_id,
    }


def _image(record: Item) -> dict[str, Any] | None:
    """The item's image: both stored widths, its shown size and alt text."""
    picture = media.picture(record)
    if picture is None:
        return None
    base = settings().base_url
    return {
        "url": f"{base}/media/{picture.large}",
        "srcset": [
            {"url": f"{base}/media/{picture.small}", "width": picture.small_width},
            {"url": f"{base}/media/{picture.large}", "width": picture.large_width},
        ],
        "width": picture.width,
        "height": picture.height,
        "alt": picture.alt,
        "decorative": record.image_decorative,
    }


def _item(record: Item, issue_slug: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "html": str(render_markdown(record.body or "")),
        "contact": _contact(record),
        "links": [{"label": link.label, "url": link.url} for link in record.links],
        "image": _image(record),
        "permalink": absolute("archive.issue", slug=issue_slug) + f"#item-{record.id}",
    }


def issue(
    record: Issue, sections: Sequence[Section], corrections: Sequence[Correction]
) -> dict[str, Any]:
    """A published issue with its themes, items and corrections."""
    return {
        **issue_summary(record),
        "intro_html": str(render_markdown(record.intro or "")),
        "themes": [
            {
                "slug": section.theme.slug,
                "name": section.theme.name,
                "contact": _contact(section.contact),
                "items": [_item(item, record.slug) for item in section.items],
            }
            for section in sections
        ],
        "corrections": [_correction(c) for c in corrections],
    }
