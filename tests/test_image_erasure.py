"""A sent item's image is removed or replaced by a correction, and a picture that
must not be shown any more is erased: out of the item's earlier versions, its files
and the PDF edition that prints it deleted at once."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from newsletter.extensions import db
from newsletter.models import AuditEvent, IssuePdf, IssueStatus, Item, Revision
from newsletter.models.review import Correction
from newsletter.models.states import Role
from newsletter.services import media, revisions
from newsletter.services.issues import ItemImage
from tests.conftest import EditorClient
from tests.factories import make_issue, make_item
from tests.test_corrections import correction, log_in_as
from tests.test_item_images import ALT, post_item, upload
from tests.test_media import photo

SENT_AT = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
SLUG = "nyhetsbrev-januari"
NOTE = "Bilden är borttagen på begäran."
NEW_ALT = "En röd stuga vid en sjö en vinterdag."


def with_image(status: str = IssueStatus.SENT) -> tuple[int, str]:
    """An item with a stored photo in an issue (sent unless told); return the
    item's id and the photo's name."""
    stored = media.store_image(photo())
    issue = make_issue("Nyhetsbrev januari")
    item = make_item(
        issue,
        "aldre",
        "Koja i skogen",
        body="Barnen byggde en koja.",
        image=ItemImage(stored.name, ALT, False, stored.width, stored.height),
    )
    if status == IssueStatus.SENT:
        issue.status = IssueStatus.SENT
        issue.published_at = issue.updated_at = SENT_AT
    db.session.commit()
    return item.id, stored.name


def two_drafts_with_one_picture() -> tuple[int, int, int, str]:
    """Two draft items showing the same stored picture (as a copied issue does);
    return both ids, their theme's id and the picture's name."""
    first, name = with_image(status=IssueStatus.DRAFT)
    copy = make_item(
        make_issue("Nyhetsbrev februari"),
        "aldre",
        "Koja i skogen igen",
        image=ItemImage(name, ALT, False, 1200, 750),
    )
    return first, copy.id, copy.theme_id, name


def post_correction(
    client: EditorClient, item_id: int, **fields: object
) -> tuple[int, str]:
    """Post the correction form as multipart/form-data (opened while the item had
    the image it has now); return status and page."""
    data: dict[str, object] = {
        "erase_target": present_image(client, item_id),
        "csrf_token": client.token,
        **correction("Koja i skogen", "Barnen byggde en koja.", NOTE),
        "links-0-text": "",
        "links-0-url": "",
        "image_alt": ALT,
        **fields,
    }
    if isinstance(data.get("image"), tuple):
        stream, filename = data.pop("image")  # type: ignore[misc]
        data["image"] = FileStorage(stream, filename)
    boundary, body = encode_multipart(data)
    response = client.client.post(
        f"/editor/items/{item_id}/correct",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        follow_redirects=True,
    )
    return response.status_code, response.get_data(as_text=True)


def present_image(client: EditorClient, item_id: int) -> str:
    """The image an item has now, as the form opened now names it."""
    with client.client.application.app_context():
        return db.session.get(Item, item_id).image


def variant_urls(name: str) -> list[str]:
    return [f"/media/{media.variant_name(name, width)}" for width in media.WIDTHS]


def served(app: Flask, name: str) -> list[int]:
    """The status of each of the photo's variant addresses."""
    client = app.test_client()
    statuses = []
    for url in variant_urls(name):
        with client.get(url) as response:
            statuses.append(response.status_code)
    return statuses


def named_in_revisions(app: Flask, item_id: int, name: str) -> int:
    with app.app_context():
        return sum(
            r.fields.get("image") == name
            for r in revisions.for_object(revisions.ITEM, item_id)
        )


def test_a_correction_removes_a_sent_items_image_openly(app):
    with app.app_context():
        item_id, name = with_image()
    publisher = log_in_as(app, Role.PUBLISHER)
    page = publisher.get(f"/editor/items/{item_id}/correct").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert variant_urls(name)[0] in page  # the present image, as a thumbnail
    assert "Radera den nuvarande bilden helt" in page

    status, page = post_correction(publisher, item_id, remove_image="y", image_alt="")
    assert status == 200 and "Rättelsen är publicerad." in page
    archive = app.test_client().get(f"/archive/{SLUG}").get_data(as_text=True)
    assert name.partition(".")[0] not in archive and ALT not in archive
    assert NOTE in archive
    with app.app_context():
        assert db.session.get(Item, item_id).image == ""
        stored = db.session.scalars(select(Correction)).one()
        assert stored.changes["image"] == [name, ""]
    # Only removed: an earlier version still holds it, so its file stays.
    assert named_in_revisions(app, item_id, name) == 1
    assert served(app, name) == [200, 200]


def test_a_correction_replaces_the_image_and_its_alt_text(app):
    with app.app_context():
        item_id, old = with_image()
    publisher = log_in_as(app, Role.PUBLISHER)
    status, page = post_correction(
        publisher,
        item_id,
        image=upload(photo(colour="#b03030")),
        image_alt=NEW_ALT,
    )
    assert status == 200 and "Rättelsen är publicerad." in page
    with app.app_context():
        item = db.session.get(Item, item_id)
        new = item.image
        assert new not in ("", old) and item.image_alt == NEW_ALT
    archive = app.test_client().get(f"/archive/{SLUG}").get_data(as_text=True)
    assert variant_urls(new)[0] in archive and f'alt="{NEW_ALT}"' in archive
    assert old.partition(".")[0] not in archive


def test_erasing_takes_the_picture_out_of_history_its_files_and_the_pdf(app):
    with app.app_context():
        item_id, name = with_image()
        issue_id = db.session.get(Item, item_id).issue_id
        pdf_name = media.store_file(b"%PDF-1.7 the old edition", "pdf")
        db.session.add(IssuePdf(issue_id=issue_id, stamp="old", filename=pdf_name))
        db.session.commit()
        pdf_path = media.media_path() / pdf_name
    with app.test_client().get(f"/archive/{SLUG}.pdf") as response:
        assert response.status_code == 200
    publisher = log_in_as(app, Role.PUBLISHER)

    status, page = post_correction(
        publisher, item_id, remove_image="y", erase_image="y", image_alt=""
    )
    assert status == 200
    assert "Rättelsen är publicerad." in page
    assert "Den gamla bilden är raderad" in page
    # Its address shows nothing, in emails already sent too.
    assert served(app, name) == [404, 404]
    assert named_in_revisions(app, item_id, name) == 0
    with app.app_context():
        assert not any(
            (media.media_path() / media.variant_name(name, w)).exists()
            for w in media.WIDTHS
        )
        # No revision keeps its alt text either; a restore cannot bring it back.
        kept = db.session.scalars(select(Revision)).all()
        assert ALT not in [r.fields.get("image_alt") for r in kept]
        assert db.session.get(IssuePdf, issue_id) is None
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "item.image_erased")
        ).one()
        assert event.object_id == item_id and event.changes["revisions"] == [None, 1]
    # The printed edition showed the picture: it is made again without it.
    assert not pdf_path.exists()
    assert app.test_client().get(f"/archive/{SLUG}.pdf").status_code == 503
    admin = log_in_as(app, Role.ADMIN, "admin@example.se")
    audit = admin.get("/editor/audit").get_data(as_text=True)
    assert "Bild raderad" in audit


def test_erasing_an_image_that_stays_is_refused_and_changes_nothing(app):
    with app.app_context():
        item_id, name = with_image()
    publisher = log_in_as(app, Role.PUBLISHER)
    status, page = post_correction(publisher, item_id, erase_image="y")
    assert status == 422
    assert "Ta bort bilden eller välj en annan för att radera den nuvarande." in page
    with app.app_context():
        assert db.session.get(Item, item_id).image == name
        assert db.session.scalars(select(Correction)).all() == []
    assert served(app, name) == [200, 200]


def test_a_picture_another_item_shows_keeps_its_file_until_erased_there(app, editor):
    with app.app_context():
        first, second, aldre, name = two_drafts_with_one_picture()

    def erase_in(item_id: int) -> str:
        status, page = post_item(
            editor,
            f"/editor/items/{item_id}",
            aldre,
            version="1",
            remove_image="y",
            erase_image="y",
            erase_target=name,
        )
        assert status == 302
        return editor.get(f"/editor/items/{item_id}").get_data(as_text=True)

    page = erase_in(first)
    assert "1 annan artikel visar den fortfarande" in page
    assert served(app, name) == [200, 200]
    assert named_in_revisions(app, first, name) == 0

    erase_in(second)
    assert served(app, name) == [404, 404]


def test_erasing_after_someone_else_changed_the_image_is_refused(app):
    """The form names the image it was opened with: a picture replaced meanwhile
    is not erased in its place."""
    with app.app_context():
        item_id, name = with_image()
    publisher = log_in_as(app, Role.PUBLISHER)
    status, page = post_correction(
        publisher,
        item_id,
        remove_image="y",
        erase_image="y",
        image_alt="",
        erase_target="0123456789abcdef0123456789abcdef.jpg",
    )
    assert status == 422
    assert "Bilden har ändrats av någon annan under tiden." in page
    with app.app_context():
        assert db.session.get(Item, item_id).image == name
    assert served(app, name) == [200, 200]


def test_a_picture_removed_earlier_is_erased_from_the_item_page(app):
    """Removed before (or before this release): the item page lists it under its
    earlier images, and erasing it there deletes it from every version that holds
    it, alt text and audit entries included."""
    with app.app_context():
        item_id, name = with_image()
    publisher = log_in_as(app, Role.PUBLISHER)
    # Two saves that keep the picture, then one that removes it: three versions
    # hold it.
    for version, note in enumerate(("Titeln rättad.", "Texten rättad."), start=1):
        status, _page = post_correction(
            publisher, item_id, note=note, title=f"Koja – {note}", version=str(version)
        )
        assert status == 200
    status, page = post_correction(
        publisher, item_id, remove_image="y", image_alt="", version="3"
    )
    assert status == 200
    assert named_in_revisions(app, item_id, name) == 3
    page = publisher.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert "Tidigare bilder" in page and variant_urls(name)[0] in page
    erased = publisher.post(
        f"/editor/items/{item_id}/images/erase",
        data={"image": name},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Den gamla bilden är raderad" in erased
    assert "Tidigare bilder" not in erased
    assert named_in_revisions(app, item_id, name) == 0
    assert served(app, name) == [404, 404]
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEvent.changes).where(AuditEvent.object_id == item_id)
        ).all()
        assert ALT not in str(entries)
        stored = db.session.scalars(select(Correction.changes)).all()
        assert ALT not in str(stored)


def test_only_an_image_of_the_items_history_can_be_erased_by_those_who_may(app):
    with app.app_context():
        item_id, name = with_image()
        other, other_name = with_image(status=IssueStatus.DRAFT)
    publisher = log_in_as(app, Role.PUBLISHER)
    # The item shows it now: not an earlier image.
    page = publisher.post(
        f"/editor/items/{item_id}/images/erase",
        data={"image": name},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Den bilden finns inte bland artikelns tidigare bilder." in page
    assert served(app, name) == [200, 200]
    # A reviewer may not; an editor may not correct a sent issue under approval.
    reviewer = log_in_as(app, Role.REVIEWER, "granskare@example.se")
    response = reviewer.post(
        f"/editor/items/{item_id}/images/erase", data={"image": name}
    )
    assert response.status_code == 403
    assert served(app, other_name) == [200, 200]


def test_a_removed_picture_that_another_item_had_goes_with_the_erasure(app, editor):
    """Another item that once had the picture and no longer shows it does not keep
    the file alive: its versions lose the picture too."""
    with app.app_context():
        first, second, aldre, name = two_drafts_with_one_picture()
    status, _page = post_item(
        editor, f"/editor/items/{second}", aldre, version="1", remove_image="y"
    )
    assert status == 302 and named_in_revisions(app, second, name) == 1
    status, _page = post_item(
        editor,
        f"/editor/items/{first}",
        aldre,
        version="1",
        remove_image="y",
        erase_image="y",
        erase_target=name,
    )
    assert status == 302
    assert named_in_revisions(app, second, name) == 0
    assert served(app, name) == [404, 404]


def test_a_reviewer_is_offered_no_erasing(app):
    """Reviewers read items; the erase buttons and the tick box are not theirs."""
    with app.app_context():
        item_id, name = with_image(status=IssueStatus.DRAFT)
    publisher = log_in_as(app, Role.PUBLISHER)
    page = publisher.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert "Radera den nuvarande bilden helt" in page
    reviewer = log_in_as(app, Role.REVIEWER, "granskare@example.se")
    page = reviewer.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert "Radera den nuvarande bilden helt" not in page
    assert "Radera helt" not in page
