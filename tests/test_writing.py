"""The live preview of a text field: rendered as readers see it, changes nothing."""

from __future__ import annotations

from newsletter.content import render_markdown
from newsletter.models import Role
from tests.conftest import log_in
from tests.factories import make_editor, make_issue, make_item
from tests.test_corrections import sent_issue

URL = "/editor/text-preview"
TEXT = (
    "Regionen startar ett **gemensamt** arbete.\n\n"
    "- Första punkten\n- Andra punkten\n\n"
    "Läs mer på [regionens webbplats](https://region.example.se/).\n"
    "<script>alert(1)</script>"
)


def test_the_preview_is_the_text_as_the_email_and_archive_render_it(app, editor):
    response = editor.post(URL, data={"text": TEXT})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    with app.app_context():
        assert html == str(render_markdown(TEXT))
    assert "<strong>gemensamt</strong>" in html
    assert "<ul>\n<li>Första punkten</li>" in html
    assert '<a href="https://region.example.se/"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_preview_without_the_form_token_is_refused(app, editor):
    response = editor.client.post(URL, data={"text": TEXT})
    assert response.status_code == 400


def test_a_reviewer_who_cannot_write_gets_no_preview(app):
    with app.app_context():
        make_editor(email="rut@example.se", name="Rut", role=Role.REVIEWER)
    reviewer = log_in(app.test_client(), "rut@example.se")
    assert reviewer.post(URL, data={"text": TEXT}).status_code == 403


def test_a_text_too_long_to_keep_says_so_in_the_preview(app, editor):
    response = editor.post(URL, data={"text": "a" * 20_001})
    assert response.status_code == 413
    assert "Texten är längre än 20\u00a0000 tecken" in response.get_data(as_text=True)


def test_the_item_form_offers_the_writing_aids_hidden_until_the_script_runs(
    app, editor
):
    with app.app_context():
        issue = make_issue()
        item_id = make_item(issue).id
    page = editor.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert (
        'role="toolbar" aria-label="Formatering av text" aria-controls="body" hidden'
        in page
    )
    assert f'data-preview-url="{URL}"' in page
    assert "Inklistrad text behåller sina stycken, listor, fetstil och länkar." in page
    assert "Markdown:" not in page


def test_the_issue_introduction_has_the_writing_aids_too(app, editor):
    with app.app_context():
        issue_id = make_issue().id
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert 'role="toolbar" aria-label="Formatering av inledning"' in page
    assert 'aria-controls="intro" hidden' in page
    assert "Markdown går att använda" not in page


def test_a_correction_of_a_sent_item_has_the_writing_aids(app, editor):
    with app.app_context():
        item_id = sent_issue()
    page = editor.get(f"/editor/items/{item_id}/correct").get_data(as_text=True)
    assert 'role="toolbar" aria-label="Formatering av text"' in page
    assert f'data-preview-url="{URL}"' in page
