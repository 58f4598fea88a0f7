"""Every published issue has an accessible PDF edition: tagged PDF/UA-1 in
Swedish, titled, with bookmarks, live links, contacts, images and corrections.
Workers build it (again after a correction); /archive/<slug>.pdf only serves it."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import func, select

from newsletter.config import update_settings
from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import AuditEvent, Issue, IssuePdf, Item
from newsletter.models.review import Setting
from newsletter.models.states import Role
from newsletter.services import corrections, identity, issues, media, pdf
from newsletter.services.issues import ContactDetails, ItemData, LinkData
from tests.conftest import TEST_MEDIA
from tests.factories import make_issue, make_item, theme

PUBLISHED_AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ISSUE = "Nyhetsbrev mars 2026"
FIRST = "Ny vägledning för skolnärvaro"
SECOND = "Stöd till anhöriga"
THIRD = "Träffpunkter för seniorer"


def png() -> bytes:
    """A small picture to upload."""
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (0, 80, 122)).save(out, "PNG")
    return out.getvalue()


def published_issue() -> Issue:
    """A published issue: two themes, three items, a section contact, an image."""
    issue = make_issue(ISSUE, intro="Välkommen till marsnumret.")
    first = make_item(
        issue,
        "barn-och-unga",
        FIRST,
        body="Vägledningen finns hos Skolverket.",
        links=[("Läs vägledningen", "https://example.se/vagledning")],
        contact_name="Sara Lind",
        contact_phone="0480-123 45",
        contact_email="sara.lind@example.se",
    )
    make_item(issue, "barn-och-unga", SECOND, body="Anhöriga får samtalsstöd.")
    make_item(issue, "aldre", THIRD, body="Öppet hus varje tisdag.")
    issues.set_section_contact(
        issue.id,
        theme("aldre").id,
        ContactDetails("Olle Berg", "010-200 30 00", "olle.berg@example.se"),
        "Test",
    )
    stored = media.store_image(png())
    first.image, first.image_alt = stored.name, "Elever i ett klassrum"
    first.image_width, first.image_height = stored.width, stored.height
    issue.status = "sent"
    issue.published_at = PUBLISHED_AT
    db.session.commit()
    return issue


def correct_first_item(issue: Issue, note: str = "Länken var fel.") -> None:
    """Correct the first item's text with a public note."""
    item = db.session.scalar(select(Item).where(Item.title == FIRST))
    assert item is not None
    corrections.correct_item(
        item.id,
        item.version,
        ItemData(
            title=FIRST,
            body="Vägledningen finns hos Skolverket och kommunen.",
            contact_name=item.contact_name,
            contact_phone=item.contact_phone,
            contact_email=item.contact_email,
            links=[LinkData("Läs vägledningen", "https://example.se/vagledning")],
        ),
        note,
        datetime.now(UTC),
        role=Role.ADMIN,
    )
    db.session.commit()


def built(issue_id: int) -> IssuePdf:
    """The issue's PDF row, which must exist."""
    row = db.session.get(IssuePdf, issue_id)
    assert row is not None
    db.session.refresh(row)
    return row


def outline_titles(document: pikepdf.Pdf) -> list[str]:
    """Every bookmark's title, depth first, in order."""
    titles: list[str] = []

    def walk(items: list) -> None:
        for entry in items:
            titles.append(str(entry.title))
            walk(entry.children)

    with document.open_outline() as outline:
        walk(outline.root)
    return titles


def link_targets(document: pikepdf.Pdf) -> list[str]:
    """The URIs of every link annotation."""
    return [
        str(annotation.A.URI)
        for page in document.pages
        for annotation in page.get("/Annots", [])
        if annotation.get("/A") is not None and "/URI" in annotation.A
    ]


def text_of(issue: Issue) -> str:
    """The text WeasyPrint lays out on the PDF's pages (its own document API:
    poppler's pdftotext is not installed on the CI machines)."""
    from weasyprint import HTML

    document = HTML(
        string=pdf.render_html(issue), url_fetcher=pdf.media_fetcher()
    ).render()
    return " ".join(
        box.text
        for page in document.pages
        for box in page._page_box.descendants()
        if getattr(box, "text", None)
    )


def tick(app) -> bool:
    """One round of a real worker that builds PDF editions."""
    return Worker(app).tick()


@pytest.fixture
def pdf_app(make_app):
    return make_app(PDF_EVERY_SECONDS=30, BASE_URL="https://nyhetsbrev.example.se")


def test_the_pdf_is_tagged_swedish_titled_with_bookmarks_links_and_images(pdf_app):
    with pdf_app.app_context():
        issue = published_issue()
        assert tick(pdf_app)
        row = built(issue.id)
        path = pdf.file_path(row)
        assert path.stat().st_size == row.size
        document = pikepdf.open(path)
        root = document.Root
        assert root.MarkInfo.Marked is True
        assert "/StructTreeRoot" in root
        assert str(root.Lang) == "sv"
        assert str(document.docinfo.Title) == ISSUE
        assert root.ViewerPreferences.DisplayDocTitle is True
        assert outline_titles(document) == [
            "Barn och unga",
            FIRST,
            SECOND,
            "Äldre",
            THIRD,
        ]
        targets = link_targets(document)
        assert "https://example.se/vagledning" in targets
        assert "mailto:sara.lind@example.se" in targets
        assert "tel:048012345" in targets
        assert "mailto:olle.berg@example.se" in targets
        assert "https://nyhetsbrev.example.se/archive/" + issue.slug in targets
        images = [name for page in document.pages for name in page.get_images()]
        assert len(images) == 1, "the item's image is in the PDF"
        text = text_of(issue)
        for words in ("Olle Berg", "Sara Lind", "Sida 1 av", "Välkommen"):
            assert words in text


def test_a_correction_makes_the_pdf_stale_and_the_worker_builds_it_again(pdf_app):
    with pdf_app.app_context():
        issue = published_issue()
        tick(pdf_app)
        first = built(issue.id)
        old_stamp, old_file = first.stamp, first.filename
        assert pdf.due_issues() == []
        correct_first_item(issue, note="Kommunen har också vägledningen.")
        assert [i.id for i in pdf.due_issues()] == [issue.id]
        # The previous edition is served until the new one is built.
        with pdf_app.test_client().get(f"/archive/{issue.slug}.pdf") as served:
            assert served.status_code == 200
        assert tick(pdf_app)
        second = built(issue.id)
        assert second.stamp != old_stamp and second.filename != old_file
        assert not (media.media_path() / old_file).exists()
        assert pdf.due_issues() == []
        text = text_of(db.session.get(Issue, issue.id))
        assert "Kommunen har också vägledningen." in text
        assert "och kommunen" in text
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == issue.id)
        ).all()
        assert actions.count("issue.pdf_built") == 2


def test_a_new_identity_makes_the_pdf_stale(pdf_app):
    with pdf_app.app_context():
        issue = published_issue()
        tick(pdf_app)
        db.session.add(
            Setting(key=identity.IDENTITY, value={"footer_text": "Utges av Regionen."})
        )
        db.session.commit()
        assert [i.id for i in pdf.due_issues()] == [issue.id]
        identity.forget()
        assert "Utges av Regionen." in text_of(issue)


def test_a_failed_build_is_logged_and_tried_again_later(pdf_app, tmp_path, caplog):
    with pdf_app.app_context():
        issue_id = published_issue().id
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    update_settings(pdf_app, MEDIA_PATH=str(blocked))
    worker = Worker(pdf_app)
    assert worker.tick() is False
    assert "failed; trying again later" in caplog.text
    duty = worker.pdf_editions
    assert duty is not None and duty.failures[issue_id].attempts == 1
    duty.next_at = None
    assert worker.tick() is False, "it waits before trying again"
    # Mended in the meantime: the next try, after the wait, builds it.
    update_settings(pdf_app, MEDIA_PATH=TEST_MEDIA)
    duty.next_at, duty.failures[issue_id].retry_at = None, PUBLISHED_AT
    assert worker.tick() is True
    with pdf_app.app_context():
        assert built(issue_id).size > 0


def test_the_worker_says_it_built_the_pdf_without_weasyprint_s_steps(pdf_app, caplog):
    caplog.set_level(logging.INFO)  # what `flask worker` shows on its console
    with pdf_app.app_context():
        issue_id = published_issue().id
    result = pdf_app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert f"built the PDF edition of issue {issue_id}" in caplog.text
    assert "Step 1" not in caplog.text
    noise = [r for r in caplog.records if r.name.split(".")[0] != "newsletter"]
    assert not [r.getMessage() for r in noise if r.levelno < logging.WARNING]


def test_the_url_is_404_before_publication_and_503_until_built(pdf_app):
    client = pdf_app.test_client()
    with pdf_app.app_context():
        draft = make_issue("Nyhetsbrev april")
        make_item(draft)
        assert client.get(f"/archive/{draft.slug}.pdf").status_code == 404
        assert client.get("/archive/finns-inte.pdf").status_code == 404
        issue = published_issue()
        response = client.get(f"/archive/{issue.slug}.pdf")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "60"
        assert "PDF-utgåvan" in response.get_data(as_text=True)
        # The way to the issue meanwhile is a link, not just a sentence.
        link = f'<a href="/archive/{issue.slug}">Läs numret på webben</a>'
        assert link in response.get_data(as_text=True)
        # A request never builds: no row, however often it is asked.
        client.get(f"/archive/{issue.slug}.pdf")
        assert db.session.scalar(select(func.count()).select_from(IssuePdf)) == 0


def test_the_built_pdf_is_served_inline_and_answers_304_when_unchanged(pdf_app):
    client = pdf_app.test_client()
    with pdf_app.app_context():
        issue = published_issue()
        tick(pdf_app)
        size, slug = built(issue.id).size, issue.slug
    response = client.get(f"/archive/{slug}.pdf")
    body = response.data
    response.close()
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'inline; filename="{slug}.pdf"'
    assert body.startswith(b"%PDF-") and len(body) == size
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.last_modified is not None
    etag = response.headers["ETag"]
    again = client.get(f"/archive/{slug}.pdf", headers={"If-None-Match": etag})
    again.close()
    assert again.status_code == 304 and again.data == b""


def test_the_archive_page_links_the_pdf_once_it_is_built(pdf_app):
    client = pdf_app.test_client()
    with pdf_app.app_context():
        issue = published_issue()
        issue_id, slug = issue.id, issue.slug
    page = client.get(f"/archive/{slug}").get_data(as_text=True)
    assert "PDF-utgåva (A4)" not in page
    with pdf_app.app_context():
        tick(pdf_app)
        kilobytes = (built(issue_id).size + 1023) // 1024
    page = client.get(f"/archive/{slug}").get_data(as_text=True)
    assert f'href="/archive/{slug}.pdf"' in page
    assert "PDF-utgåva (A4)" in page and f"PDF, {kilobytes} kB" in page


def test_the_command_builds_a_published_issue_and_refuses_a_draft(pdf_app):
    runner = pdf_app.test_cli_runner()
    with pdf_app.app_context():
        issue_id = published_issue().id
        slug, draft_slug = db.session.get(Issue, issue_id).slug, make_issue("Maj").slug
    result = runner.invoke(args=["pdf", "build", slug])
    assert result.exit_code == 0, result.output
    assert f"{slug}: " in result.output
    result = runner.invoke(args=["pdf", "build", draft_slug])
    assert result.exit_code != 0 and "no published issue" in result.output
    result = runner.invoke(args=["pdf", "build"])
    assert "up to date" in result.output
    with pdf_app.app_context():
        assert built(issue_id).size > 0


def issue_email(issue: Issue):
    """The Swedish issue email of the Äldre theme, links filled in."""
    from newsletter.mail.emails import issue_context
    from newsletter.mail.render import render_email

    links = {"unsubscribe_url": "u", "preferences_url": "p"}
    context = issue_context(issue, frozenset({theme("aldre").id}), "sv", links)
    return render_email("issue", locale="sv", **context)


def test_the_issue_email_links_the_pdf_edition(pdf_app):
    with pdf_app.app_context():
        issue = published_issue()
        email = issue_email(issue)
        url = f"https://nyhetsbrev.example.se/archive/{issue.slug}.pdf"
        assert f"PDF-utgåva (A4): {url}" in email.text
        assert f'href="{url}"' in email.html


def test_without_workers_building_pdfs_the_email_has_no_pdf_link(app):
    with app.app_context():
        email = issue_email(published_issue())
        assert ".pdf" not in email.text and ".pdf" not in email.html


def test_the_fetcher_serves_stored_images_and_nothing_else(pdf_app, tmp_path):
    from weasyprint.urls import URLFetchingError, fetch

    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    with pdf_app.app_context():
        stored = media.store_image(png())
        fetcher = pdf.media_fetcher()
        with fetch(fetcher, pdf.image_url(stored.name, 600)) as response:
            assert response.read().startswith(b"\xff\xd8")  # stored as JPEG
        folder = Path(media.media_path()).resolve()
        for url in (
            secret.as_uri(),
            "https://example.se/logo.png",
            (folder / "../secret.png").as_uri(),
            (folder / stored.name).as_uri().replace("file://", "file://evil.example"),
        ):
            with pytest.raises(URLFetchingError), fetch(fetcher, url):
                pass


def test_a_built_pdf_whose_file_is_gone_is_built_again(pdf_app):
    # The row outlives its file when MEDIA_PATH is moved or emptied, or a
    # database is restored without its media: the page must not answer "being
    # made" for ever.
    with pdf_app.app_context():
        issue = published_issue()
        tick(pdf_app)
        (media.media_path() / built(issue.id).filename).unlink()
        with pdf_app.test_client().get(f"/archive/{issue.slug}.pdf") as served:
            assert served.status_code == 503
        assert [i.id for i in pdf.due_issues()] == [issue.id]
        assert tick(pdf_app)
        with pdf_app.test_client().get(f"/archive/{issue.slug}.pdf") as served:
            assert served.status_code == 200
            assert served.data.startswith(b"%PDF")


def figures(node: object) -> list[tuple[str, object]]:
    """Every Figure of a structure tree with its alternative text (None: none)."""
    found: list[tuple[str, object]] = []
    if isinstance(node, pikepdf.Dictionary):
        if node.get("/S") == "/Figure":
            found.append(("Figure", node.get("/Alt")))
        kids = node.get("/K")
        for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
            found.extend(figures(kid))
    return found


def test_a_decorative_image_is_drawn_but_is_no_figure_without_alt_text(pdf_app):
    # PDF/UA-1 wants every Figure to carry an alternative text: a decorative
    # image is drawn as an artifact, which screen readers pass over.
    with pdf_app.app_context():
        issue = published_issue()
        item = db.session.scalar(select(Item).where(Item.title == FIRST))
        item.image_alt, item.image_decorative = "", True
        db.session.commit()
        assert tick(pdf_app)
        document = pikepdf.open(pdf.file_path(built(issue.id)))
        assert figures(document.Root.StructTreeRoot) == []
        images = [name for page in document.pages for name in page.get_images()]
        assert len(images) == 1, "the decorative image is still drawn"


def test_a_new_organisation_name_in_the_environment_makes_the_pdf_stale(pdf_app):
    # Without identity settings the PDF shows the environment's ORGANISATION and
    # SITE_NAME; changing them (and restarting) must rebuild the editions too.
    with pdf_app.app_context():
        issue_id = published_issue().id
    assert tick(pdf_app)
    update_settings(pdf_app, ORGANISATION="Kalmarsunds samverkan")
    with pdf_app.app_context():
        assert [i.id for i in pdf.due_issues()] == [issue_id]
        assert "Kalmarsunds samverkan" in text_of(db.session.get(Issue, issue_id))


def test_a_pdf_built_while_the_issue_was_corrected_is_thrown_away(pdf_app, monkeypatch):
    """A correction (or an erased picture) committed during a build: the PDF of
    the older content is neither recorded nor kept, and the next round builds."""
    from newsletter.pdf_editions import build_edition

    real_write = pdf.write

    def write_while_corrected(issue: Issue) -> pdf.Built:
        made = real_write(issue)
        correct_first_item(issue, note="Rättat under bygget.")
        return made

    with pdf_app.app_context():
        issue = published_issue()
        files_before = set(media.media_path().glob("*.pdf"))
        monkeypatch.setattr(pdf, "write", write_while_corrected)
        assert build_edition(issue) is None
        assert db.session.get(IssuePdf, issue.id) is None
        assert set(media.media_path().glob("*.pdf")) <= files_before  # none kept
        monkeypatch.setattr(pdf, "write", real_write)
        assert tick(pdf_app)
        assert "Rättat under bygget." in text_of(db.session.get(Issue, issue.id))
