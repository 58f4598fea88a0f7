"""The audit trail page: filters, pages, CSV export, administrators only; entries
never hold secrets and erasure leaves no address behind."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

import newsletter
from newsletter.extensions import db
from newsletter.models import AuditEvent, ContributionLink
from newsletter.services import audit
from newsletter.services.contributor_links import token_of
from newsletter.services.subscriptions import address_hash
from tests.conftest import csrf_token_from
from tests.factories import PASSWORD, make_issue, make_subscriber


def add_entry(action: str, at: datetime, **fields: object) -> None:
    """Append one entry as the command line would, at a given time."""
    audit.record(
        action,
        str(fields.get("object_type", "issue")),
        fields.get("object_id", 1),  # type: ignore[arg-type]
        str(fields.get("title", "Nyhetsbrev")),
        fields.get("change", {}),  # type: ignore[arg-type]
        actor=audit.Actor("command", str(fields.get("actor", "drift"))),
        at=at,
    )


def test_only_administrators_see_the_trail(app, editor, admin):
    assert editor.get("/editor/audit").status_code == 403
    assert editor.get("/editor/audit.csv").status_code == 403
    page = admin.get("/editor/audit")
    assert page.status_code == 200
    assert "Händelselogg" in page.get_data(as_text=True)


def test_the_page_shows_who_did_what_to_which_object(app, admin):
    with app.app_context():
        issue = make_issue(title="Nyhetsbrev mars")
        issue_id = issue.id
    response = admin.post(
        f"/editor/issues/{issue_id}/schedule", data={"send_at": "2099-03-03T09:00"}
    )
    assert response.status_code == 302
    page = admin.get("/editor/audit?type=issue").get_data(as_text=True)
    assert "admin@example.se" in page
    assert "Utskick schemalagt" in page
    assert f'href="/editor/issues/{issue_id}"' in page
    assert "draft → scheduled" in page


def test_filters_narrow_by_person_object_action_and_stockholm_date(app, admin):
    with app.app_context():
        # 23:30 UTC on 2 March is already 3 March in Stockholm.
        add_entry(
            "theme.created",
            datetime(2026, 3, 2, 23, 30, tzinfo=UTC),
            object_type="theme",
            object_id=7,
            title="Kultur",
            actor="kalle",
        )
        add_entry(
            "issue.paused",
            datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
            title="Marsnumret",
            actor="lisa",
        )
        db.session.commit()

    def titles(query: str) -> set[str]:
        page = admin.get(f"/editor/audit?{query}").get_data(as_text=True)
        return {t for t in ("Kultur", "Marsnumret") if t in page}

    assert titles("actor=kalle") == {"Kultur"}
    assert titles("type=issue&id=1") == {"Marsnumret"}
    assert titles("type=theme&id=8") == set()
    assert titles("action=issue.") == {"Marsnumret"}
    assert titles("from=2026-03-03&to=2026-03-03") == {"Kultur"}
    assert titles("to=2026-03-02") == {"Marsnumret"}
    bad = admin.get("/editor/audit?from=3+mars")
    assert bad.status_code == 422
    assert "Skriv datumet som ÅÅÅÅ-MM-DD" in bad.get_data(as_text=True)


def test_the_trail_is_paged_fifty_at_a_time_newest_first(app, admin):
    with app.app_context():
        for n in range(55):
            add_entry(
                "theme.moved",
                datetime(2026, 1, 1, 0, n, tzinfo=UTC),
                object_type="sida",
                title=f"Tema-{n:02d}",
            )
        db.session.commit()
    first = admin.get("/editor/audit?type=sida").get_data(as_text=True)
    assert "Tema-54" in first and "Tema-05" in first and "Tema-04" not in first
    assert "Sida 1 av 2" in first
    assert 'href="/editor/audit?page=2&amp;type=sida"' in first
    second = admin.get("/editor/audit?type=sida&page=2").get_data(as_text=True)
    assert "Tema-04" in second and "Tema-00" in second and "Tema-05" not in second


def test_csv_export_follows_the_filter_with_bom_and_semicolons(app, admin):
    with app.app_context():
        add_entry(
            "issue.paused",
            datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
            title="=HYPERLINK(1)",
            change={"status": ["sending", "paused"]},
        )
        add_entry(
            "theme.created",
            datetime(2026, 3, 1, 11, 0, tzinfo=UTC),
            object_type="theme",
            title="Kultur",
        )
        db.session.commit()
    response = admin.get("/editor/audit.csv?action=issue.")
    assert response.mimetype == "text/csv"
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].split(";")[:4] == ["time", "actor_kind", "actor", "action"]
    assert len(lines) == 2
    cells = lines[1].split(";")
    assert cells[0] == "2026-03-01T11:00:00+01:00"
    assert cells[3] == "issue.paused"
    assert cells[6] == "'=HYPERLINK(1)"
    assert cells[7] == "status: sending → paused"


def test_no_password_or_token_reaches_the_trail(app, admin):
    admin.post(
        "/editor/account",
        data={
            "current_password": PASSWORD,
            "password": "ett nytt lösenord 123",
            "confirm": "ett nytt lösenord 123",
        },
    )
    admin.post(
        "/editor/contributors",
        data={
            "organisation": "Region Kalmar län",
            "contact_email": "maria@regionkalmar.se",
            "contact_name": "Maria",
            "expires_on": "",
        },
    )
    with app.app_context():
        link = db.session.scalars(select(ContributionLink)).one()
        secrets = [
            "ett nytt lösenord 123",
            token_of(link),
            link.token_hash,
            link.token_sealed,
        ]
        entries = db.session.scalars(select(AuditEvent)).all()
        actions = {entry.action for entry in entries}
        assert {"editor.password_changed", "contribution_link.created"} <= actions
        text = json.dumps(
            [[e.actor, e.object_title, e.changes] for e in entries], ensure_ascii=False
        )
    for secret in secrets:
        assert secret and secret not in text


def test_erasure_replaces_the_address_in_old_entries(app, client):
    address = "örjan.ek@exempel.se"
    with app.app_context():
        subscriber = make_subscriber(email=address)
        subscriber_id = subscriber.id
        audit.record(
            "subscriber.requested",
            "subscriber",
            subscriber.id,
            address,
            {"to": [None, f"Till {address}"], "list": [[address], []]},
            actor=audit.Actor("public", address),
        )
        audit.record("theme.created", "theme", 1, "Kultur", {"name": [None, "Kultur"]})
        db.session.commit()
        subscriber = db.session.get(type(subscriber), subscriber_id)
        from newsletter.services import subscriptions

        subscriptions.erase(subscriber, by="test")
        db.session.commit()
        entries = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        text = json.dumps(
            [[e.actor, e.object_title, e.changes] for e in entries], ensure_ascii=False
        )
        assert address not in text
        assert json.dumps(address)[1:-1] not in text
        digest = address_hash(address)
        requested = next(e for e in entries if e.action == "subscriber.requested")
        assert requested.actor == digest and requested.object_title == digest
        assert requested.changes == {
            "to": [None, f"Till {digest}"],
            "list": [[digest], []],
        }
        assert entries[-1].action == "subscriber.erased"
        assert any(e.changes == {"name": [None, "Kultur"]} for e in entries)


def test_entries_cannot_be_changed_or_deleted_through_the_session(app):
    with app.app_context():
        add_entry("issue.paused", datetime(2026, 3, 1, tzinfo=UTC))
        db.session.commit()
        entry = db.session.scalars(select(AuditEvent)).first()
        entry.action = "issue.resumed"
        with pytest.raises(audit.AppendOnly):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalars(select(AuditEvent)).first())
        with pytest.raises(audit.AppendOnly):
            db.session.flush()
        db.session.rollback()


WRITES = re.compile(r"\b(update|delete)\(\s*AuditEvent\b")


# The rewrites erasure needs: a subscriber's address, an erased picture's alt text.
ERASURES = {"services/audit.py:forget_address", "services/audit.py:forget_image_alt"}


def test_no_code_updates_or_deletes_entries_except_erasure():
    package = Path(newsletter.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            if WRITES.search(ast.get_source_segment(path.read_text(), node) or ""):
                where = f"{path.relative_to(package)}:{node.name}"
                if where not in ERASURES:
                    offenders.append(where)
    assert offenders == []
    source = (package / "services" / "audit.py").read_text()
    assert WRITES.search(source), "the check must see forget_address's update"


def test_erasure_leaves_another_person_s_longer_address_alone(app):
    with app.app_context():
        erased = make_subscriber(email="a@example.se")
        erased_id = erased.id
        audit.record(
            "subscriber.requested",
            "subscriber",
            erased_id,
            "a@example.se",
            {"to": [None, "a@example.se, anna@example.se"]},
        )
        audit.record("subscriber.requested", "subscriber", None, "anna@example.se")
        db.session.commit()
        from newsletter.services import subscriptions

        subscriptions.erase(db.session.get(type(erased), erased_id), by="test")
        db.session.commit()
        digest = address_hash("a@example.se")
        first, second = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "subscriber.requested")
            .order_by(AuditEvent.id)
        ).all()
        assert first.object_title == digest
        assert first.changes == {"to": [None, f"{digest}, anna@example.se"]}
        assert second.object_title == "anna@example.se"


def test_a_requested_confirmation_link_keeps_only_the_address_s_hash(app, client):
    token = csrf_token_from(client, "/subscribe")
    client.post("/confirm/resend", data={"csrf_token": token, "email": "x@example.se"})
    with app.app_context():
        titles = db.session.scalars(select(AuditEvent.object_title)).all()
        assert titles == [address_hash("x@example.se")]


def recorded_arguments(offset: int) -> set[str]:
    """The string constants the code passes to audit.record and history.changed,
    `offset` places after the action (0: the action, 1: the kind of object)."""
    found = set()
    for path in Path(newsletter.__file__).parent.rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(call, ast.Call):
                continue
            name = getattr(call.func, "attr", getattr(call.func, "id", ""))
            place = {"record": 0, "changed": 1}.get(name)
            if place is None or len(call.args) <= place + offset:
                continue
            value = call.args[place + offset]
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(value.value)
    return found


def test_every_recorded_action_has_a_readable_name_on_the_audit_page():
    from newsletter.editor.audit import ACTIONS

    recorded = recorded_arguments(0)
    assert "issue.approved" in recorded and "item.changed" in recorded
    assert sorted(recorded - set(ACTIONS)) == []


def test_objects_and_changed_fields_are_named_in_the_reader_s_language(app, admin):
    with app.app_context():
        add_entry(
            "identity.changed",
            datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
            object_type="setting",
            object_id=None,
            title="IDENTITY",
            change={"logo_height": [0, 120], "brand_colour": ["#00507a", "#6b2c91"]},
        )
        add_entry(
            "contact.changed",
            datetime(2026, 3, 1, 11, 0, tzinfo=UTC),
            object_type="contact",
            title="Karin Ek",
            change={"title": ["", "Samordnare"], "unheard_of": ["a", "b"]},
        )
        db.session.commit()
    page = admin.get("/editor/audit").get_data(as_text=True)
    assert "Inställning" in page and "Organisationens identitet" in page
    assert "Logotypens höjd: 0 → 120" in page
    assert "Profilfärg: #00507a → #6b2c91" in page
    assert "Kontakt 1" in page
    # A contact's title is a job title; a field without a name shows its code.
    assert "Titel:  → Samordnare" in page
    assert "unheard_of: a → b" in page
    for raw in ("IDENTITY", "logo_height", "brand_colour", "setting 1", ">setting<"):
        assert raw not in page
    assert '<option value="contact">Kontakt</option>' in page
    assert '<option value="setting">Inställning</option>' in page
    admin.post("/language", data={"lang": "en"})
    english = admin.get("/editor/audit").get_data(as_text=True)
    assert "Organisation identity" in english and "Logo height: 0 → 120" in english


def test_the_csv_export_keeps_the_codes_of_objects_and_fields(app, admin):
    with app.app_context():
        add_entry(
            "identity.changed",
            datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
            object_type="setting",
            object_id=None,
            title="IDENTITY",
            change={"logo_height": [0, 120]},
        )
        db.session.commit()
    export = admin.get("/editor/audit.csv?type=setting")
    lines = export.get_data().decode("utf-8-sig").splitlines()
    cells = lines[1].split(";")
    assert cells[4:] == ["setting", "", "IDENTITY", "logo_height: 0 → 120"]


def test_the_labels_fall_back_to_the_code_for_an_unknown_name(app):
    from newsletter.editor.audit import field_label, object_title, object_type_label

    with app.test_request_context():
        assert object_type_label("contribution_link") == "Bidragslänk"
        assert object_type_label("gadget") == "gadget"
        assert field_label("issue", "title") == "Rubrik"
        assert field_label("contact", "title") == "Titel"
        assert field_label("issue", "gizmo_count") == "gizmo_count"
        assert object_title("setting", "REQUIRE_APPROVAL") == "Godkännande före utskick"
        assert object_title("setting", "SOMETHING_NEW") == "SOMETHING_NEW"
        assert object_title("issue", "IDENTITY") == "IDENTITY"


def test_every_recorded_kind_of_object_has_a_readable_name():
    from newsletter.editor.audit import OBJECT_TYPES

    recorded = recorded_arguments(1)
    assert "contribution_link" in recorded and "setting" in recorded
    assert sorted(recorded - set(OBJECT_TYPES)) == []
