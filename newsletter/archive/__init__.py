"""The public side: the archive of sent issues."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Issue
from newsletter.services.issues import sections

bp = Blueprint("archive", __name__)

PUBLISHED = ("sending", "sent")


@bp.get("/")
def index() -> str:
    """List published issues, newest first."""
    published = db.session.scalars(
        select(Issue)
        .where(Issue.status.in_(PUBLISHED))
        .order_by(Issue.published_at.desc(), Issue.id.desc())
    ).all()
    return render_template("archive/index.html", issues=published)


@bp.get("/archive/<slug>")
def issue(slug: str) -> str:
    """Show one published issue."""
    record = db.session.scalar(select(Issue).where(Issue.slug == slug))
    if record is None or record.status not in PUBLISHED:
        abort(404)
    return render_template(
        "public/issue.html", issue=record, sections=sections(record), preview=False
    )
