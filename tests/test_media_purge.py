"""Stored media that nothing refers to any more is removed: an image no item,
revision or logo names, a superseded PDF edition, a temporary file left behind;
never a young file, a file of somebody else's, or what a symbolic link points to."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import AuditEvent, IssuePdf, Item
from newsletter.models.types import utcnow
from newsletter.services import identity, issues, media
from newsletter.services.issues import NO_IMAGE, ItemData, ItemImage
from tests.factories import make_issue, make_item
from tests.test_media import photo, png

ALT = "Två barn bygger en koja av grenar i skogen."


@pytest.fixture
def media_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    """An app that keeps media in a folder of this test's own (no worker purge)."""
    return make_app(MEDIA_PATH=str(tmp_path / "media"), MEDIA_PURGE_EVERY_SECONDS=0)


def age(app: Flask, days: float = 2) -> None:
    """Make every file and link in the media folder as old as given (not what
    a link points to)."""
    when = (utcnow() - timedelta(days=days)).timestamp()
    with app.app_context():
        for path in media.media_path().iterdir():
            os.utime(path, (when, when), follow_symlinks=False)


def files(app: Flask) -> set[str]:
    with app.app_context():
        return {path.name for path in media.media_path().iterdir()}


def variants(name: str) -> set[str]:
    return {media.variant_name(name, width) for width in media.WIDTHS}


def purge(app: Flask, **options: object) -> media.PurgeReport:
    with app.app_context():
        return media.purge(utcnow(), **options)  # type: ignore[arg-type]


def item_with_photo(app: Flask, colour: str = "#2a6f97") -> tuple[int, str]:
    """An item of a draft with a stored photo (and its first revision)."""
    with app.app_context():
        stored = media.store_image(photo(colour=colour))
        image = ItemImage(stored.name, ALT, False, stored.width, stored.height)
        item = make_item(make_issue(), "aldre", "Koja i skogen", image=image)
        return item.id, stored.name


def test_the_image_of_a_deleted_item_goes_and_its_address_answers_404(media_app):
    item_id, name = item_with_photo(media_app)
    client = media_app.test_client()
    address = f"/media/{media.variant_name(name, 600)}"
    response = client.get(address)
    assert response.status_code == 200
    response.close()
    with media_app.app_context():
        issues.delete_item(item_id, "Test")  # its revisions go with it
        db.session.commit()
    age(media_app)
    report = purge(media_app)
    assert {removed for removed, _size in report.removed} == variants(name)
    assert report.files == 2 and report.bytes > 0
    assert files(media_app) == set()
    assert client.get(address).status_code == 404


def test_an_image_removed_from_an_item_stays_while_a_revision_names_it(media_app):
    item_id, name = item_with_photo(media_app)
    with media_app.app_context():
        item = db.session.get(Item, item_id)
        assert item is not None
        data = ItemData(title=item.title, theme_id=item.theme_id, image=NO_IMAGE)
        issues.update_item(item_id, item.version, data, "Test")
        db.session.commit()
        assert item.image == ""
    age(media_app)
    assert purge(media_app).files == 0
    assert files(media_app) == variants(name)  # a restore can bring it back


def test_the_current_logo_stays_and_a_replaced_logo_goes(media_app):
    with media_app.app_context():
        first = identity.store_logo(png((400, 200)))
        identity.save({**identity.stored(), **first}, by="admin@example.se")
        db.session.commit()
    age(media_app)
    assert purge(media_app).files == 0
    with media_app.app_context():
        second = identity.store_logo(png((300, 300), mode="RGB"))
        identity.save({**identity.stored(), **second}, by="admin@example.se")
        db.session.commit()
    age(media_app)
    report = purge(media_app)
    assert [removed for removed, _size in report.removed] == [
        media.variant_name(first["logo"], identity.LOGO_VARIANT)
    ]
    assert files(media_app) == {
        media.variant_name(second["logo"], identity.LOGO_VARIANT)
    }


def test_a_superseded_pdf_goes_and_the_current_stays(media_app):
    with media_app.app_context():
        issue = make_issue()
        old = media.store_file(b"%PDF-1.7 old edition", "pdf")
        current = media.store_file(b"%PDF-1.7 current edition", "pdf")
        db.session.add(
            IssuePdf(
                issue_id=issue.id,
                stamp="s",
                filename=current,
                size=24,
                built_at=utcnow(),
            )
        )
        db.session.commit()
    age(media_app)
    report = purge(media_app)
    assert report.removed == ((old, len(b"%PDF-1.7 old edition")),)
    assert files(media_app) == {current}


def test_young_files_stay_and_old_temporary_files_go(media_app):
    with media_app.app_context():
        pending = media.store_image(photo())  # waiting in an open form
        folder = media.media_path()
        (folder / ".upload-abc123").write_bytes(b"half a file")
    assert purge(media_app).files == 0
    assert files(media_app) == variants(pending.name) | {".upload-abc123"}
    # The same photo uploaded again a day later is young again, not taken.
    age(media_app)
    with media_app.app_context():
        media.store_image(photo())
        (folder / ".upload-abc123").touch()
        os.utime(folder / ".upload-abc123", (0, 0))
    report = purge(media_app)
    assert report.removed == ((".upload-abc123", len(b"half a file")),)
    assert files(media_app) == variants(pending.name)


def test_foreign_files_and_symbolic_links_are_left_alone(media_app, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = outside / f"{'a' * 32}-600.jpg"
    target.write_bytes(b"not ours")
    with media_app.app_context():
        folder = media.media_path()
    (folder / "README.txt").write_text("put here by the operator")
    (folder / "photo.jpg").write_bytes(b"x")
    (folder / "sub").mkdir()
    (folder / f"{'b' * 32}-600.jpg").symlink_to(target)
    (folder / f"{'c' * 32}.pdf").symlink_to(target)
    old = (utcnow() - timedelta(days=30)).timestamp()
    os.utime(target, (old, old))
    age(media_app, days=30)
    assert purge(media_app).files == 0
    assert files(media_app) == {
        "README.txt",
        "photo.jpg",
        "sub",
        f"{'b' * 32}-600.jpg",
        f"{'c' * 32}.pdf",
    }
    assert target.read_bytes() == b"not ours"


def test_a_dry_run_removes_nothing(media_app):
    with media_app.app_context():
        name = media.store_file(b"%PDF-1.7 orphan", "pdf")
    age(media_app)
    report = purge(media_app, dry_run=True)
    assert report.removed == ((name, len(b"%PDF-1.7 orphan")),)
    assert files(media_app) == {name}


def audit_entries(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "media.purged")
            )
        )


def test_the_command_prints_what_it_removes_and_records_it(media_app):
    with media_app.app_context():
        name = media.store_file(b"%PDF-1.7 orphan", "pdf")
        kept = media.store_image(photo())  # young: stays
    age(media_app)
    with media_app.app_context():
        media.store_image(photo())
    runner = media_app.test_cli_runner()
    dry = runner.invoke(args=["media", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output == (
        f"would remove {name} (15 bytes)\nWould remove 1 file(s), 15 bytes.\n"
    )
    assert audit_entries(media_app) == []
    assert name in files(media_app)
    result = runner.invoke(args=["media", "purge"])
    assert result.exit_code == 0, result.output
    assert result.output == f"removed {name} (15 bytes)\nRemoved 1 file(s), 15 bytes.\n"
    assert files(media_app) == variants(kept.name)
    [entry] = audit_entries(media_app)
    assert entry.actor_kind == "command"
    assert entry.changes == {"files": [None, 1], "bytes": [None, 15]}
    again = runner.invoke(args=["media", "purge"])
    assert again.output == "Removed 0 file(s), 0 bytes.\n"
    assert len(audit_entries(media_app)) == 1  # nothing removed, nothing recorded


def test_a_worker_purges_when_due_and_logs_it(make_app, tmp_path, caplog):
    app = make_app(MEDIA_PATH=str(tmp_path / "media"), MEDIA_PURGE_EVERY_SECONDS=3600)
    with app.app_context():
        name = media.store_file(b"%PDF-1.7 orphan", "pdf")
    age(app)
    worker = Worker(app)
    with caplog.at_level(logging.INFO, logger="newsletter.media_purge"):
        worker.tick()
    assert files(app) == set()
    assert f"removed 1 unused media files (15 bytes): {name}" in caplog.text
    [entry] = audit_entries(app)
    assert entry.actor_kind == "worker"
    # Not again within the interval.
    with app.app_context():
        media.store_file(b"%PDF-1.7 another", "pdf")
    age(app)
    worker.tick()
    assert len(files(app)) == 1


def test_a_worker_never_purges_when_the_interval_is_0(make_app, tmp_path):
    app = make_app(MEDIA_PATH=str(tmp_path / "media"), MEDIA_PURGE_EVERY_SECONDS=0)
    with app.app_context():
        name = media.store_file(b"%PDF-1.7 orphan", "pdf")
    age(app)
    Worker(app).tick()
    assert files(app) == {name}
