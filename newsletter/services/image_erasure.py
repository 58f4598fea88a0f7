"""Erasing a picture that must not be shown any more (a person who withdrew their
consent, a photo chosen by mistake).

Removing an image from an item keeps it in the item's revisions, so that a restore
can bring it back, and its file stays reachable for anyone who has its address
(every email sent with it has). Erasing takes it out of those revisions too, drops
the issue's PDF edition that prints it (a worker builds it again), and deletes the
files as soon as nothing names the picture any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import Item
from newsletter.services import audit, media, pdf, revisions


@dataclass(frozen=True)
class Erasure:
    """What erase() did in the transaction, and what remove_files() deletes after
    it is committed."""

    image: str
    revisions: int
    other_items: int
    pdf_file: str | None


def erase(item: Item, image: str) -> Erasure:
    """Take an image the item no longer shows out of its revisions and drop the
    issue's PDF edition; audited. Call remove_files() once this is committed."""
    changed = revisions.forget_image(revisions.ITEM, item.id, image)
    others = db.session.scalar(
        select(func.count()).select_from(Item).where(Item.image == image)
    )
    edition = pdf.edition(item.issue_id)
    pdf_file = edition.filename if edition is not None else None
    if edition is not None:
        db.session.delete(edition)
    audit.record(
        "item.image_erased",
        "item",
        item.id,
        item.title,
        {"image": [image, None], "revisions": [None, changed]},
    )
    db.session.flush()
    return Erasure(image, changed, others or 0, pdf_file)


def remove_files(erasure: Erasure) -> media.PurgeReport:
    """Delete the erased picture's files (unless another item still shows it) and
    the dropped PDF edition."""
    report = media.remove_image(erasure.image)
    if erasure.pdf_file:
        (media.media_path() / erasure.pdf_file).unlink(missing_ok=True)
    return report
