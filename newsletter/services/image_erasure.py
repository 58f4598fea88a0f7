"""Erasing a picture that must not be shown any more (a person who withdrew their
consent, a photo chosen by mistake).

Removing an image from an item keeps it in the item's revisions, so that a restore
can bring it back, and its file stays reachable for anyone who has its address
(every email sent with it has). Erasing takes it, with its alt text, out of the
revisions of every item that no longer shows it, blanks that alt text in those
items' audit entries and corrections, drops the PDF editions that may print it (a
worker builds them again), and deletes the files once nothing names the picture.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import IssuePdf, Item, Revision
from newsletter.models.review import Correction
from newsletter.services import audit, media, revisions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erasure:
    """What erase() did in the transaction; remove_files() deletes the files once
    it is committed."""

    image: str
    revisions: int
    other_items: int
    pdf_files: tuple[str, ...]


def earlier_images(item: Item, kept: Sequence[Revision] | None = None) -> list[str]:
    """The pictures the item's revisions (`kept`, if already read) hold that it no
    longer shows, newest first: what can still be erased after a removal."""
    names: list[str] = []
    if kept is None:
        kept = revisions.for_object(revisions.ITEM, item.id)
    for revision in kept:
        name = revision.fields.get("image")
        if isinstance(name, str) and name and name != item.image and name not in names:
            names.append(name)
    return names


def erase(item: Item, image: str) -> Erasure:
    """Erase a picture this item no longer shows (see the module); audited on the
    item. Call remove_files() once this is committed."""
    showing = set(db.session.scalars(select(Item.id).where(Item.image == image)))
    changed: set[int] = set()
    alts: set[str] = set()
    count = 0
    for revision in db.session.scalars(
        select(Revision).where(Revision.object_type == revisions.ITEM)
    ):
        fields = revision.fields
        if fields.get("image") != image or revision.object_id in showing:
            continue
        alts.add(str(fields.get("image_alt") or ""))
        revision.fields = {**fields, **revisions.NO_IMAGE_FIELDS}
        changed.add(revision.object_id)
        count += 1
    alts.discard("")
    changed.add(item.id)
    audit.forget_image_alt(changed, alts)
    for correction in db.session.scalars(
        select(Correction).where(Correction.item_id.in_(changed))
    ):
        correction.changes = audit.without_alts(correction.changes, alts)
    issue_ids = set(
        db.session.scalars(select(Item.issue_id).where(Item.id.in_(changed)))
    )
    editions = db.session.scalars(
        select(IssuePdf).where(IssuePdf.issue_id.in_(issue_ids))
    ).all()
    for edition in editions:
        db.session.delete(edition)
    audit.record(
        "item.image_erased",
        "item",
        item.id,
        item.title,
        {"image": [image, None], "revisions": [None, count]},
    )
    db.session.flush()
    return Erasure(image, count, len(showing), tuple(e.filename for e in editions))


def remove_files(erasure: Erasure) -> media.PurgeReport:
    """Delete the erased picture's files (unless something still names it) and the
    dropped PDF editions. A file that cannot be deleted now is logged and left to
    the daily purge."""
    try:
        report = media.remove_image(erasure.image)
        for name in erasure.pdf_files:
            (media.media_path() / name).unlink(missing_ok=True)
    except OSError:
        log.exception("the files of erased image %s stay for now", erasure.image)
        return media.PurgeReport(())
    return report
