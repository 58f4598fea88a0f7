"""An item's image: uploaded through the item form with an alt text (or marked
decorative), replaced, removed, kept in revisions and copies, and shown in the
email, the archive and the feeds."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import feedparser
import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from newsletter.extensions import db
from newsletter.mail.emails import preview_email
from newsletter.models import AuditEvent, Issue, Item
from newsletter.services import media
from newsletter.services.issues import ItemImage
from tests import feedcheck
from tests.conftest import EditorClient, log_in
from tests.factories import make_editor, make_issue, make_item, theme
from tests.test_issues import item_form
from tests.test_media import photo
from tests.test_review import two_publishers

ALT = "Två barn bygger en koja av grenar i skogen."
HIDDEN = re.compile(r'name="pending_image"[^>]*value="([^"]*)"')


def upload(data: bytes, filename: str = "koja.jpg") -> tuple[io.BytesIO, str]:
    """A file as a browser sends it in a multipart form."""
    return io.BytesIO(data), filename


def post_item(
    editor: EditorClient, url: str, theme_id: int, **fields: object
) -> tuple[int, str]:
    """Post the item form as multipart/form-data; return status and page."""
    data: dict[str, object] = {
        "csrf_token": editor.token,
        **item_form(theme_id, **{"title": "Koja i skogen", **fields}),
    }
    if isinstance(fields.get("image"), tuple):
        stream, filename = data.pop("image")  # type: ignore[misc]
        data["image"] = FileStorage(stream, filename)
    # Encoded here, in memory: the test client spools large bodies to a temporary
    # file that it never closes.
    boundary, body = encode_multipart(data)
    response = editor.client.post(
        url, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    return response.status_code, response.get_data(as_text=True)


def new_item_url(app: Flask) -> tuple[str, int, int]:
    """The new-item address of a fresh draft, its issue id and a theme id."""
    with app.app_context():
        issue = make_issue()
        return f"/editor/issues/{issue.id}/items/new", issue.id, theme("aldre").id


def only_item(app: Flask, issue_id: int) -> Item:
    """The one item of an issue (detached: read its columns only)."""
    with app.app_context():
        return db.session.scalars(select(Item).where(Item.issue_id == issue_id)).one()


def item_with_image(app: Flask, **image: object) -> tuple[int, int, str]:
    """An item of a draft with a stored photo; return item id, theme id, name."""
    with app.app_context():
        stored = media.store_image(photo())
        picture = ItemImage(stored.name, ALT, False, stored.width, stored.height)
        if image:
            picture = ItemImage(**{**picture.__dict__, **image})
        item = make_item(make_issue(), "aldre", "Koja i skogen", image=picture)
        return item.id, item.theme_id, stored.name


def test_an_uploaded_image_is_saved_with_its_alt_text_and_no_metadata(app, editor):
    url, issue_id, aldre = new_item_url(app)
    status, _ = post_item(editor, url, aldre, image=upload(photo()), image_alt=ALT)
    assert status == 302
    item = only_item(app, issue_id)
    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", item.image)
    assert (item.image_alt, item.image_decorative) == (ALT, False)
    assert (item.image_width, item.image_height) == (1200, 750)  # largest kept
    with app.app_context():
        for width in media.WIDTHS:
            data = (
                media.media_path() / media.variant_name(item.image, width)
            ).read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                assert not image.getexif()  # no camera, no GPS position
            assert b"Storgatan" not in data and b"Fotograf" not in data


def test_an_image_without_alt_text_is_refused_and_kept_for_the_next_try(app, editor):
    url, issue_id, aldre = new_item_url(app)
    status, page = post_item(editor, url, aldre, image=upload(photo()))
    assert status == 422
    assert "Skriv en alternativtext som säger vad bilden visar" in page
    with app.app_context():
        assert db.session.scalars(select(Item)).all() == []
    pending = HIDDEN.search(page)[1]
    assert pending.endswith(".jpg")
    assert f"/media/{media.variant_name(pending, 600)}" in page  # shown on the form
    assert "Den valda bilden. Den sparas med artikeln." in page
    status, _ = post_item(editor, url, aldre, pending_image=pending, image_alt=ALT)
    assert status == 302
    item = only_item(app, issue_id)
    assert (item.image, item.image_alt) == (pending, ALT)


def test_a_decorative_image_needs_no_alt_text(app, editor):
    url, issue_id, aldre = new_item_url(app)
    status, _ = post_item(
        editor, url, aldre, image=upload(photo()), image_decorative="y"
    )
    assert status == 302
    item = only_item(app, issue_id)
    assert item.image and item.image_decorative and item.image_alt == ""


def test_an_error_elsewhere_in_the_form_does_not_lose_the_upload(app, editor):
    url, issue_id, aldre = new_item_url(app)
    status, page = post_item(
        editor, url, aldre, title="", image=upload(photo()), image_alt=ALT
    )
    assert status == 422
    assert "Ge artikeln en rubrik eller en text." in page
    pending = HIDDEN.search(page)[1]
    assert pending and ALT in page
    status, _ = post_item(
        editor, url, aldre, title="Koja", pending_image=pending, image_alt=ALT
    )
    assert status == 302
    assert only_item(app, issue_id).image == pending


def test_a_forged_kept_image_name_is_refused(app, editor):
    url, _issue_id, aldre = new_item_url(app)
    status, page = post_item(
        editor, url, aldre, pending_image="../../etc/passwd.jpg", image_alt=ALT
    )
    assert status == 422
    assert "Bilden du valde tidigare finns inte längre. Välj den igen." in page


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (SVG, "logo.svg", "Filen är inte en bild som vi kan läsa"),
        (b"GIF89a" + b"\0" * 40, "anim.gif", "Filen är inte en bild som vi kan läsa"),
        (photo()[:3000], "avbruten.jpg", "Bildfilen är skadad eller avkortad."),
    ],
    ids=["svg", "broken-gif", "truncated"],
)
def test_refused_files_get_a_message_on_the_field(app, editor, data, filename, message):
    url, _issue_id, aldre = new_item_url(app)
    status, page = post_item(
        editor, url, aldre, image=upload(data, filename), image_alt=ALT
    )
    assert status == 422
    assert message in page
    assert (
        'aria-invalid="true"'
        in page.split('id="item-image"', 1)[1].split("</fieldset>")[0]
    )
    with app.app_context():
        assert db.session.scalars(select(Item)).all() == []


def test_a_gif_is_refused_naming_the_formats(app, editor):
    out = io.BytesIO()
    Image.new("P", (30, 30)).save(out, "GIF")
    url, _issue_id, aldre = new_item_url(app)
    status, page = post_item(
        editor, url, aldre, image=upload(out.getvalue(), "a.gif"), image_alt=ALT
    )
    assert status == 422
    assert "Bilden måste vara en PNG-, JPEG- eller WebP-fil." in page


def test_a_body_over_the_image_limit_gets_a_413_naming_it(make_app):
    app = make_app(IMAGE_MAX_BYTES=100_000)
    with app.app_context():
        make_editor(email="editor@example.se", name="Eva Editor")
    editor = log_in(app.test_client(), "editor@example.se")
    url, _issue_id, aldre = new_item_url(app)
    status, page = post_item(
        editor, url, aldre, image=upload(b"\xff" * 300_000), image_alt=ALT
    )
    assert status == 413
    assert "Bilden är större än 97,7 kB." in page


def test_an_image_over_the_default_form_limit_is_taken(app, editor):
    """MAX_CONTENT_LENGTH (2 MB) does not apply: the item form takes images up to
    IMAGE_MAX_BYTES (10 MB)."""
    noisy = Image.effect_noise((1500, 1500), 90).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert 2 * 1024 * 1024 < len(out.getvalue()) < 10 * 1024 * 1024
    url, issue_id, aldre = new_item_url(app)
    status, _ = post_item(
        editor, url, aldre, image=upload(out.getvalue(), "brus.png"), image_alt=ALT
    )
    assert status == 302
    assert only_item(app, issue_id).image_height == 1200  # its largest variant


def test_replacing_and_removing_the_image_is_audited(app, editor):
    item_id, aldre, first = item_with_image(app)
    page = editor.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert f"/media/{media.variant_name(first, 600)}" in page
    assert "Artikelns bild just nu." in page and "Ta bort bilden" in page
    second_photo = photo(colour="#aa3300")
    status, _ = post_item(
        editor,
        f"/editor/items/{item_id}",
        aldre,
        version="1",
        image=upload(second_photo),
        image_alt="En röd koja.",
    )
    assert status == 302
    with app.app_context():
        item = db.session.get(Item, item_id)
        second = item.image
        assert second not in ("", first) and item.image_alt == "En röd koja."
    status, _ = post_item(
        editor, f"/editor/items/{item_id}", aldre, version="2", remove_image="y"
    )
    assert status == 302
    with app.app_context():
        item = db.session.get(Item, item_id)
        assert (item.image, item.image_alt, item.image_width) == ("", "", None)
        changes = db.session.scalars(
            select(AuditEvent.changes)
            .where(AuditEvent.action == "item.changed")
            .order_by(AuditEvent.id)
        ).all()
    assert changes[0]["image"] == [first, second]
    assert changes[1]["image"] == [second, ""]


def test_saving_without_touching_the_image_keeps_it(app, editor):
    item_id, aldre, name = item_with_image(app)
    status, _ = post_item(
        editor, f"/editor/items/{item_id}", aldre, version="1", image_alt=ALT
    )
    assert status == 302
    with app.app_context():
        assert db.session.get(Item, item_id).image == name


def test_restoring_a_revision_brings_the_image_back(app, editor):
    item_id, aldre, name = item_with_image(app)
    post_item(editor, f"/editor/items/{item_id}", aldre, version="1", remove_image="y")
    with app.app_context():
        assert db.session.get(Item, item_id).image == ""
    response = editor.post(
        f"/editor/items/{item_id}/revisions/1/restore", data={"version": "2"}
    )
    assert response.status_code == 302
    with app.app_context():
        item = db.session.get(Item, item_id)
        assert (item.image, item.image_alt) == (name, ALT)
        assert (item.image_width, item.image_height) == (1600, 1000)


def test_a_stale_form_with_a_new_image_conflicts_and_keeps_the_upload(app, editor):
    item_id, aldre, name = item_with_image(app)
    status, _ = post_item(
        editor, f"/editor/items/{item_id}", aldre, version="1", image_alt=ALT
    )
    assert status == 302
    status, page = post_item(
        editor,
        f"/editor/items/{item_id}",
        aldre,
        version="1",
        image=upload(photo(colour="#00aa00")),
        image_alt="En grön koja.",
    )
    assert status == 409
    pending = HIDDEN.search(page)[1]
    assert pending and pending != name
    with app.app_context():
        assert db.session.get(Item, item_id).image == name


def test_a_copy_of_the_issue_keeps_the_images(app, editor):
    item_id, _aldre, name = item_with_image(app)
    with app.app_context():
        issue_id = db.session.get(Item, item_id).issue_id
    response = editor.post(
        f"/editor/issues/{issue_id}/duplicate", data={"copy-title": "Kopia"}
    )
    assert response.status_code == 302
    with app.app_context():
        copy = db.session.scalars(select(Issue).where(Issue.title == "Kopia")).one()
        (item,) = copy.items
        assert (item.image, item.image_alt, item.image_width) == (name, ALT, 1600)


def test_the_email_shows_the_image_by_absolute_address_with_size_and_alt(sqlite_app):
    with sqlite_app.app_context():
        stored = media.store_image(photo())
        issue = make_issue()
        picture = ItemImage(stored.name, ALT, False, stored.width, stored.height)
        make_item(issue, "aldre", "Koja i skogen", image=picture)
        email = preview_email(issue, "sv")
    large = media.variant_name(stored.name, 1200)
    tag = re.search(rf'<img[^>]*src="http://localhost/media/{large}"[^>]*>', email.html)
    assert tag, "no image with an absolute address in the email"
    assert f'alt="{ALT}"' in tag[0]
    assert 'width="552"' in tag[0] and 'height="345"' in tag[0]
    assert "cid:" not in email.html  # linked, never attached
    assert f"[Bild: {ALT}]" in email.text


def test_a_decorative_image_has_empty_alt_in_the_email(sqlite_app):
    with sqlite_app.app_context():
        stored = media.store_image(photo((500, 250)))
        issue = make_issue()
        picture = ItemImage(stored.name, "", True, stored.width, stored.height)
        make_item(issue, "aldre", "Koja", image=picture)
        email = preview_email(issue, "sv")
    tag = re.search(r'<img[^>]*src="http://localhost/media/[^"]+"[^>]*>', email.html)
    assert tag and 'alt=""' in tag[0]
    assert 'width="500"' in tag[0] and 'height="250"' in tag[0]
    assert "[Bild" not in email.text


def publish(app: Flask, issue_id: int) -> str:
    """Mark an issue sent and published; return its slug."""
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        issue.status = "sent"
        issue.published_at = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
        db.session.commit()
        return issue.slug


def published_with_image(make_app: Callable[..., Flask]) -> tuple[Flask, str, str]:
    """An app with one published issue whose item has a photo."""
    app = make_app(BASE_URL=feedcheck_base())
    item_id, _aldre, name = item_with_image(app)
    with app.app_context():
        issue_id = db.session.get(Item, item_id).issue_id
    return app, publish(app, issue_id), name


def feedcheck_base() -> str:
    """The site address the feed tests use."""
    return "https://nyhetsbrev.example.se"


def test_the_archive_offers_both_sizes_with_alt_text(make_app):
    app, slug, name = published_with_image(make_app)
    client = app.test_client()
    for url in (f"/archive/{slug}", "/themes/aldre"):
        page = client.get(url).get_data(as_text=True)
        tag = re.search(r'<img class="item-image"[^>]*>', page)
        assert tag, url
        small, large = (media.variant_name(name, w) for w in (600, 1200))
        assert f'srcset="/media/{small} 600w, /media/{large} 1200w"' in tag[0]
        assert 'width="600" height="375"' in tag[0]
        assert f'alt="{ALT}"' in tag[0] and 'loading="lazy"' in tag[0]


def test_the_feeds_carry_the_image_by_absolute_address(make_app):
    app, _slug, name = published_with_image(make_app)
    client = app.test_client()
    small = f"{feedcheck_base()}/media/{media.variant_name(name, 600)}"
    for url, check in (
        ("/feed.xml", feedcheck.rss_problems),
        ("/themes/aldre/feed.xml", feedcheck.rss_problems),
    ):
        body = client.get(url).data
        assert check(body, feedcheck_base() + url) == [], url
        (entry,) = feedparser.parse(io.BytesIO(body)).entries
        content = " ".join(
            [entry.get("summary", ""), *(c.value for c in entry.get("content", []))]
        )
        assert f'src="{small}"' in content and f'alt="{ALT}"' in content, url


def test_changing_only_the_alt_text_withdraws_an_approval(app):
    pia, per = two_publishers(app)
    item_id, aldre, _name = item_with_image(app)
    with app.app_context():
        issue = db.session.get(Item, item_id).issue
        issue_id, version = issue.id, issue.version
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_at is not None
    status, _ = post_item(
        pia, f"/editor/items/{item_id}", aldre, version="1", image_alt="En koja."
    )
    assert status == 302
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_at is None


def test_the_comparison_of_two_versions_shows_the_alt_text_change(app, editor):
    item_id, aldre, _name = item_with_image(app)
    post_item(
        editor, f"/editor/items/{item_id}", aldre, version="1", image_alt="En koja."
    )
    page = editor.get(f"/editor/items/{item_id}/revisions?a=1&b=2").get_data(
        as_text=True
    )
    assert "Bild" in page
    assert "<ins>koja.</ins>" in page and "<del>Två</del>" in page


def test_the_swedish_alt_text_is_marked_swedish_in_an_english_email(sqlite_app):
    # The articles of an English subscriber's email are marked lang="sv"; the
    # image's alt text belongs to its article and is Swedish too, or a screen
    # reader reads it with an English voice.
    from html.parser import HTMLParser

    class Langs(HTMLParser):
        VOID = {"img", "br", "meta", "link", "hr", "input", "col", "source"}

        def __init__(self) -> None:
            super().__init__()
            self.stack: list[tuple[str, str | None]] = []
            self.image_lang: list[str | None] = []

        def handle_starttag(self, tag, attrs):
            lang = dict(attrs).get("lang")
            if tag == "img" and "/media/" in (dict(attrs).get("src") or ""):
                inherited = [found for _tag, found in self.stack if found]
                self.image_lang.append(inherited[-1] if inherited else None)
            if tag not in self.VOID:
                self.stack.append((tag, lang))

        def handle_endtag(self, tag):
            while self.stack:
                if self.stack.pop()[0] == tag:
                    break

    with sqlite_app.app_context():
        stored = media.store_image(photo())
        issue = make_issue()
        picture = ItemImage(stored.name, ALT, False, stored.width, stored.height)
        make_item(issue, "aldre", "Koja i skogen", image=picture)
        english = preview_email(issue, "en").html
        swedish = preview_email(issue, "sv").html
    for html, wanted in ((english, "sv"), (swedish, "sv")):
        parser = Langs()
        parser.feed(html)
        assert parser.image_lang == [wanted], parser.image_lang
