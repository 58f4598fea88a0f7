"""The PDF edition of a published issue: an accessible, tagged A4 document.

A worker builds it once per content stamp (see `stamp`): a correction or a change
of the organisation's identity gives the issue a new stamp, and the PDF is built
again. A request only serves the last built file; it never builds one.

WeasyPrint is given only our own HTML and the stored images in MEDIA_PATH: its
URL fetcher refuses everything else, so building never touches the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from newsletter.config import settings
from newsletter.extensions import db
from newsletter.models import Issue, IssuePdf, Theme
from newsletter.models.review import Correction
from newsletter.services import archive, corrections, identity, media
from newsletter.services.issues import sections

# Raise when the layout changes, so that every edition is built again.
LAYOUT_VERSION = 2
# The widths of the stored variants the PDF uses (print wants the sharper one).
IMAGE_WIDTH = 1200
LOGO_WIDTH = 600
MIME = {"png": "image/png", "jpg": "image/jpeg"}


@dataclass(frozen=True)
class Built:
    """A PDF edition just built: its row's values."""

    issue_id: int
    stamp: str
    filename: str
    size: int


def stamp(issue: Issue) -> str:
    """What an issue's PDF is built from: its content (version and last change,
    which a correction moves), its newest correction, the identity as shown,
    the themes' names and the layout. A different stamp means a stale PDF."""
    newest_correction = db.session.scalar(
        select(func.max(Correction.created_at)).where(Correction.issue_id == issue.id)
    )
    themes_changed = db.session.scalar(select(func.max(Theme.updated_at)))
    parts = [
        LAYOUT_VERSION,
        issue.version,
        _instant(issue.updated_at),
        _instant(newest_correction),
        # The identity as shown, so a changed default from the environment
        # (ORGANISATION, SITE_NAME, MAIL_FROM) counts as much as a saved change.
        dataclasses.asdict(identity.identity()),
        _instant(themes_changed),
        settings().base_url,
    ]
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    return f"{LAYOUT_VERSION}-{digest[:40]}"


def _instant(value: datetime | None) -> str:
    """A time as text for the stamp; None as an empty string."""
    return value.isoformat() if value is not None else ""


def edition(issue_id: int) -> IssuePdf | None:
    """The last built PDF of an issue, current or stale, or None."""
    return db.session.get(IssuePdf, issue_id)


def file_path(row: IssuePdf) -> Path:
    """Where the built file is kept."""
    return media.media_path() / row.filename


def due_issues(skip: Sequence[int] = ()) -> list[Issue]:
    """Published issues whose PDF is missing or stale, oldest first. A row whose
    file is gone (MEDIA_PATH moved or emptied, a database restored without its
    media) counts as missing."""
    folder = Path(settings().media_path)  # not made here: a build reports it
    built = {
        issue_id: value
        for issue_id, value, filename in db.session.execute(
            select(IssuePdf.issue_id, IssuePdf.stamp, IssuePdf.filename)
        )
        if (folder / filename).is_file()
    }
    issues = db.session.scalars(
        select(Issue).where(archive.PUBLIC).order_by(Issue.published_at, Issue.id)
    )
    return [
        issue
        for issue in issues
        if issue.id not in skip and built.get(issue.id) != stamp(issue)
    ]


def render_html(issue: Issue) -> str:
    """The issue as the HTML the PDF is printed from, in Swedish."""
    base = settings().base_url
    with force_locale("sv"):
        return render_template(
            "pdf/issue.html",
            issue=issue,
            sections=sections(issue),
            corrections=corrections.for_issue(issue.id),
            identity=identity.identity(),
            web_url=f"{base}/archive/{issue.slug}",
            base_url=base,
            page_counter=page_counter(),
            css_string=css_string,
            brand_colour=_colour(identity.identity().brand_colour),
            image_url=image_url,
            decorative_size=decorative_size,
        )


def page_counter() -> Markup:
    """CSS `content` of the page footer: "Sida 3 av 8" with live counters."""
    text = _("Page %(page)s of %(pages)s", page="{page}", pages="{pages}")
    parts = []
    for piece in re.split(r"(\{page\}|\{pages\})", text):
        if piece in ("{page}", "{pages}"):
            parts.append(f"counter({piece[1:-1]})")
        elif piece:
            parts.append(css_string(piece))
    return Markup(" ".join(parts))


def css_string(text: str) -> Markup:
    """Text as a quoted CSS string that cannot end the style element."""
    quoted = json.dumps(text, ensure_ascii=False).replace("<", "\\3c ")
    return Markup(quoted)


def _colour(value: str) -> str:
    """A #rgb/#rrggbb colour for the stylesheet, else the built-in one."""
    if re.fullmatch(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?", value):
        return value
    return identity.DEFAULT_BRAND_COLOUR


# The page's text column (A4 less the margins) and an image's greatest height,
# as the stylesheet of templates/pdf/issue.html sets them, in millimetres.
COLUMN_MM = 170.0
IMAGE_MAX_HEIGHT_MM = 90.0
MM_PER_PX = 25.4 / 96


def decorative_size(item: Any) -> tuple[float, float]:
    """The size in millimetres a decorative image is drawn at: as an img of its
    1200 px variant would be, within the column and the greatest height."""
    width, height = media.StoredImage(
        item.image, item.image_width or 1, item.image_height or 1
    ).size_at(IMAGE_WIDTH)
    shown = min(width * MM_PER_PX, COLUMN_MM)
    tall = shown * height / width
    if tall > IMAGE_MAX_HEIGHT_MM:
        shown, tall = shown * IMAGE_MAX_HEIGHT_MM / tall, IMAGE_MAX_HEIGHT_MM
    return round(shown, 1), round(tall, 1)


def image_url(name: str, width: int) -> str:
    """The file: URL of a stored image's variant, for WeasyPrint's fetcher."""
    return (media.media_path() / media.variant_name(name, width)).resolve().as_uri()


def write(issue: Issue) -> Built:
    """Render an issue to a tagged PDF/UA-1 file in MEDIA_PATH; return what was
    built (the caller records it with `record`)."""
    from weasyprint import HTML  # type: ignore[import-untyped]  # only workers build

    current = stamp(issue)
    document = HTML(
        string=render_html(issue),
        base_url=media.media_path().resolve().as_uri() + "/",
        url_fetcher=media_fetcher(),
    )
    data = document.write_pdf(pdf_variant="pdf/ua-1")
    assert data is not None  # write_pdf without a target returns the bytes
    return Built(issue.id, current, media.store_file(data, "pdf"), len(data))


def record(built: Built, now: datetime) -> IssuePdf:
    """Keep (or replace) the row of an issue's built PDF."""
    row = db.session.get(IssuePdf, built.issue_id)
    if row is None:
        row = IssuePdf(issue_id=built.issue_id)
        db.session.add(row)
    row.stamp = built.stamp
    row.filename = built.filename
    row.size = built.size
    row.built_at = now
    db.session.flush()
    return row


def media_fetcher() -> Any:
    """A WeasyPrint URL fetcher that serves the stored images in MEDIA_PATH and
    nothing else: no network, no other file."""
    from weasyprint.urls import (  # type: ignore[import-untyped]
        URLFetcher,
        URLFetcherResponse,
    )

    folder = media.media_path().resolve()

    class MediaFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            """Return a stored image variant's bytes, or refuse."""
            parts = urlsplit(url)
            path = Path(unquote(parts.path))
            if (
                parts.scheme != "file"
                or parts.netloc not in ("", "localhost")
                or path.parent != folder
                or not media.is_image_file(path.name)
            ):
                raise ValueError(f"not a stored image: {url}")
            content_type = MIME[path.suffix.lstrip(".")]
            return URLFetcherResponse(
                url, path.read_bytes(), {"Content-Type": content_type}
            )

    return MediaFetcher()
