"""Administrators manage themes and editor accounts; editors cannot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Editor, Theme
from tests.conftest import log_in
from tests.factories import make_issue, make_item


def theme_names(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(select(Theme.name).order_by(Theme.position, Theme.id))
        )


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/editor/themes"),
        ("POST", "/editor/themes"),
        ("POST", "/editor/themes/1"),
        ("POST", "/editor/themes/1/move"),
        ("POST", "/editor/themes/1/active"),
        ("GET", "/editor/editors"),
        ("POST", "/editor/editors"),
        ("POST", "/editor/editors/1"),
        ("POST", "/editor/editors/1/password"),
    ],
)
def test_admin_pages_are_forbidden_to_ordinary_editors(editor, method, url):
    if method == "GET":
        response = editor.get(url)
    else:
        response = editor.post(url, data={"name": "X", "step": "1"})
    assert response.status_code == 403


def test_admin_adds_renames_reorders_and_deactivates_themes(app, admin):
    response = admin.post("/editor/themes", data={"name": "Funktionsnedsättning"})
    assert response.status_code == 302
    assert theme_names(app)[-1] == "Funktionsnedsättning"
    with app.app_context():
        added = db.session.scalar(select(Theme).where(Theme.name.startswith("Funk")))
        added_id, slug = added.id, added.slug
    assert slug == "funktionsnedsattning"

    admin.post(f"/editor/themes/{added_id}", data={"name": "Funktionshinder"})
    admin.post(f"/editor/themes/{added_id}/move", data={"step": "-1"})
    assert theme_names(app) == [
        "Barn och unga",
        "Psykisk hälsa",
        "Funktionshinder",
        "Äldre",
    ]
    admin.post(f"/editor/themes/{added_id}/active")
    with app.app_context():
        renamed = db.session.get(Theme, added_id)
        assert (renamed.slug, renamed.active) == ("funktionsnedsattning", False)


def test_duplicate_theme_names_are_refused_with_a_message(app, admin):
    response = admin.post("/editor/themes", data={"name": "psykisk hälsa"})
    assert response.status_code == 422
    assert (
        "Det finns redan ett tema med det namnet eller den adressen."
        in response.get_data(as_text=True)
    )
    assert len(theme_names(app)) == 3


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "<img src=x onerror=alert(1)//"},
        {"name": "<img src=x onerror=alert(1)>"},
        {"name": "Funktionshinder", "description": "<script>alert(1)</script>"},
    ],
)
def test_theme_names_and_descriptions_are_plain_text(app, admin, fields):
    response = admin.post("/editor/themes", data=fields)
    assert response.status_code == 422
    assert "Skriv ren text utan HTML: ta bort &lt;" in response.get_data(as_text=True)
    assert len(theme_names(app)) == 3
    with app.app_context():
        aldre = db.session.scalar(select(Theme.id).where(Theme.slug == "aldre"))
    renamed = admin.post(f"/editor/themes/{aldre}", data={"name": "Äldre", **fields})
    assert renamed.status_code == 422
    assert theme_names(app)[-1] == "Äldre"


def test_a_deactivated_theme_is_not_offered_for_new_items_but_keeps_old_ones(
    app, admin
):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre", "Gammal artikel om äldre")
        aldre = db.session.scalar(select(Theme).where(Theme.slug == "aldre")).id
        issue_id = issue.id
    admin.post(f"/editor/themes/{aldre}/active")
    page = admin.get(f"/editor/issues/{issue_id}/items/new").get_data(as_text=True)
    assert f'<option value="{aldre}"' not in page
    preview = admin.get(f"/editor/issues/{issue_id}/preview").get_data(as_text=True)
    assert "Gammal artikel om äldre" in preview


def test_admin_creates_an_editor_who_can_log_in(app, admin):
    response = admin.post(
        "/editor/editors",
        data={
            "name": "Olle Redaktör",
            "email": "olle@example.se",
            "password": "ett långt lösenord",
            "confirm": "ett långt lösenord",
        },
    )
    assert response.status_code == 302
    session = log_in(app.test_client(), "olle@example.se", "ett långt lösenord")
    assert session.get("/editor/themes").status_code == 403


def test_new_editor_form_explains_each_problem(app, admin):
    response = admin.post(
        "/editor/editors",
        data={
            "name": "",
            "email": "admin@example.se",
            "password": "kort",
            "confirm": "x",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Fyll i ett namn." in body
    assert "Använd minst 10 tecken." in body
    assert "Lösenorden stämmer inte överens." in body


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(app, admin):
    with app.app_context():
        admin_id = db.session.scalar(select(Editor.id).where(Editor.is_admin))
    response = admin.post(
        f"/editor/editors/{admin_id}", data={"role": "publisher", "active": "y"}
    )
    assert response.status_code == 422
    assert "minst en aktiv administratör" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Editor, admin_id).is_admin


def test_admin_sets_a_new_password_for_an_editor(app, admin):
    with app.app_context():
        from tests.factories import make_editor

        olle = make_editor(email="olle@example.se", name="Olle").id
    response = admin.post(
        f"/editor/editors/{olle}/password",
        data={"pw-password": "nytt hemligt ord", "pw-confirm": "nytt hemligt ord"},
    )
    assert response.status_code == 302
    log_in(app.test_client(), "olle@example.se", "nytt hemligt ord")
