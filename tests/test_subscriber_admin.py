"""Editors find, inspect, unsubscribe, erase, import and export subscribers."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import (
    ConsentEvent,
    ImportDraft,
    OutboundMessage,
    Subscriber,
    Suppression,
)
from newsletter.services import subscriptions
from tests.factories import make_issue, make_subscriber

FILE = (
    "email;name;themes\n"
    "ny@example.se;Ny Person;Äldre\n"
    "ANNA@example.se;Anna;\n"
    "fel-adress;Fel;\n"
    "okand@example.se;Okänd;sport\n"
    "ny@example.se;Dubblett;\n"
    "raderad@example.se;Raderad;\n"
)


def upload(editor, content: str = FILE):
    """Upload a file and return the preview page response."""
    response = editor.post(
        "/editor/subscribers/import",
        data={"file": (io.BytesIO(content.encode("utf-8")), "lista.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return editor.get(response.headers["Location"]), response.headers["Location"]


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Subscriber, ConsentEvent, OutboundMessage)
        )


def test_the_list_filters_counts_and_links_to_each_subscriber(app, editor):
    with app.app_context():
        make_subscriber("anna@example.se", "Anna Andersson", themes=("aldre",))
        make_subscriber(
            "bo@example.se", "Bo", status="pending", themes=("barn-och-unga",)
        )
        make_subscriber("cia@example.se", "Cia", status="unsubscribed")
    page = editor.get("/editor/subscribers").get_data(as_text=True)
    assert "3 prenumeranter matchar." in page
    assert "Bekräftad" in page and "Väntar på bekräftelse" in page
    assert "<svg" in page and "<desc" in page  # the growth chart has a text version
    assert "1 prenumerant matchar." in editor.get(
        "/editor/subscribers?q=andersson"
    ).get_data(as_text=True)
    page = editor.get("/editor/subscribers?status=pending").get_data(as_text=True)
    assert "bo@example.se" in page and "anna@example.se" not in page
    page = editor.get("/editor/subscribers?theme=aldre").get_data(as_text=True)
    assert "anna@example.se" in page and "bo@example.se" not in page


def test_export_follows_the_filter(app, editor):
    with app.app_context():
        make_subscriber(
            "anna@example.se", "Anna Åberg", themes=("aldre", "psykisk-halsa")
        )
        make_subscriber("bo@example.se", "Bo", status="pending")
    response = editor.get("/editor/subscribers/export.csv?status=confirmed")
    assert response.mimetype == "text/csv"
    rows = list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
    )
    assert rows == [
        ["email", "name", "themes"],
        ["anna@example.se", "Anna Åberg", "psykisk-halsa|aldre"],
    ]


def test_exported_cells_never_start_a_formula_and_import_back_unchanged(app, editor):
    from newsletter.services.subscriber_import import parse_csv

    with app.app_context():
        make_subscriber("=2+5@example.se", "=HYPERLINK(1)", themes=("aldre",))
    body = editor.get("/editor/subscribers/export.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[1] == ["'=2+5@example.se", "'=HYPERLINK(1)", "aldre"]
    with app.app_context():
        parsed = parse_csv(body.lstrip("\ufeff"))
    assert parsed.errors == []
    assert [(r.email, r.name) for r in parsed.rows] == [
        ("=2+5@example.se", "=HYPERLINK(1)")
    ]


def test_detail_page_shows_consent_and_deliveries_and_editor_actions_are_recorded(
    app, editor
):
    from newsletter.models import Delivery
    from newsletter.services.sending import SKIPPED_NO_THEMES

    with app.app_context():
        subscriber = make_subscriber()
        subscriber_id = subscriber.id
        issue = make_issue("Nyhetsbrev mars")
        db.session.add(
            Delivery(
                issue_id=issue.id,
                subscriber_id=subscriber_id,
                status="skipped",
                last_error=SKIPPED_NO_THEMES,
            )
        )
        db.session.commit()
    page = editor.get(f"/editor/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "Nyhetsbrev mars" in page and "Hoppade över" in page
    assert "Inget av prenumerantens teman har artiklar i numret." in page
    editor.post(f"/editor/subscribers/{subscriber_id}/unsubscribe")
    page = editor.get(f"/editor/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "Avslutad" in page and "redaktör Eva Editor" in page
    assert "Svenska" in page
    editor.post(f"/editor/subscribers/{subscriber_id}/erase")
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id) is None
        assert db.session.scalar(select(Suppression.reason)) == "erased by Eva Editor"


def test_import_preview_shows_row_errors_and_writes_nothing(app, editor):
    with app.app_context():
        make_subscriber("anna@example.se")
        gone = make_subscriber("raderad@example.se")
        subscriptions.erase(gone, by="the subscriber")
        db.session.commit()
    before = counts(app)
    preview, _ = upload(editor)
    body = preview.get_data(as_text=True)
    assert 'data-count="new">1<' in body
    assert 'data-count="existing">1<' in body
    assert 'data-count="errors">4<' in body
    assert "ogiltig adress: fel-adress" in body
    assert "okänt tema sport" in body
    assert "ny@example.se förekommer mer än en gång" in body
    assert "raderad@example.se raderades på personens egen begäran" in body
    assert counts(app) == before


@pytest.mark.parametrize(
    "rows",
    [
        'anna@example.se,"Anna,aldre\nbo@example.se,Bo,aldre\n',
        'anna@example.se,"Anna,aldre\nbo@example.se,Bo,\ncia@example.se,"Cia",aldre\n',
    ],
)
def test_an_unclosed_quote_is_an_error_naming_its_line_and_nothing_is_imported(
    app, editor, rows
):
    before = counts(app)
    preview, _ = upload(editor, "email,name,themes\nny@example.se,Ny,\n" + rows)
    body = preview.get_data(as_text=True)
    assert 'data-count="new">0<' in body and 'data-count="errors">1<' in body
    assert "<td>3</td><td>ett citattecken öppnar ett värde" in body
    assert counts(app) == before


def test_a_quote_left_open_in_a_large_file_is_reported_where_it_opened(app, editor):
    rows = "".join(f"person{n}@example.se,Person {n},\n" for n in range(5000))
    preview, _ = upload(editor, 'email,name,themes\nanna@example.se,"Anna,\n' + rows)
    body = preview.get_data(as_text=True)
    assert 'data-count="new">0<' in body and 'data-count="errors">1<' in body
    assert "<td>2</td><td>filen är inte giltig CSV</td>" in body


def test_import_asks_for_confirmation_by_default(app, editor):
    _, url = upload(editor)
    response = editor.post(url, data={"mode": "confirm"})
    assert response.status_code == 302
    with app.app_context():
        new = db.session.scalar(select(Subscriber).filter_by(email="ny@example.se"))
        assert new.status == "pending"
        assert (
            db.session.scalar(select(OutboundMessage.template))
            == "confirm_subscription"
        )
        assert db.session.scalar(select(func.count(ImportDraft.id))) == 0


def test_import_as_confirmed_needs_an_attestation_and_stores_it(app, editor):
    _, url = upload(editor)
    response = editor.post(url, data={"mode": "attested", "attestation": "ja"})
    assert response.status_code == 422
    assert "minst 20 tecken" in response.get_data(as_text=True)
    attestation = "Anmälde sig på regionkonferensen 12 mars 2026 (lista i diariet)."
    editor.post(url, data={"mode": "attested", "attestation": attestation})
    with app.app_context():
        new = db.session.scalar(select(Subscriber).filter_by(email="ny@example.se"))
        assert new.status == "confirmed"
        (event,) = new.events
        assert (event.kind, event.consent_text) == ("imported", attestation)
        assert event.how == "import by Eva Editor"
        assert db.session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_importing_the_same_file_again_changes_nothing(app, editor):
    _, url = upload(editor, "email,name,themes\nny@example.se,Ny,\n")
    editor.post(url, data={"mode": "confirm"})
    before = counts(app)
    preview, url = upload(editor, "email,name,themes\nny@example.se,Ny,\n")
    assert 'data-count="new">0<' in preview.get_data(as_text=True)
    editor.post(url, data={"mode": "confirm"})
    assert counts(app) == before


def test_a_file_that_is_not_utf8_is_refused_with_a_reason(app, editor):
    response = editor.post(
        "/editor/subscribers/import",
        data={"file": (io.BytesIO("email\nö@x.se\n".encode("latin-1")), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "inte UTF-8" in response.get_data(as_text=True)


def test_the_embed_snippet_posts_to_the_sign_up_address(app, editor):
    page = editor.get("/editor/subscribers/embed").get_data(as_text=True)
    assert 'action="http://localhost/subscribe" method="post"' in page


def test_erasing_also_removes_the_address_from_uploaded_files(app, editor):
    with app.app_context():
        subscriber = make_subscriber("anna@example.se")
        subscriber_id = subscriber.id
    upload(editor, "email,name,themes\nanna@example.se,Anna,\n")
    editor.post(f"/editor/subscribers/{subscriber_id}/erase")
    with app.app_context():
        assert db.session.scalar(select(func.count(ImportDraft.id))) == 0


def test_a_huge_page_number_is_not_an_error(editor):
    assert (
        editor.get("/editor/subscribers?page=99999999999999999999").status_code == 200
    )
