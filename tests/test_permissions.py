"""Every editor page checks the role on the server, against one written table."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select

from newsletter import permissions
from newsletter.extensions import db
from newsletter.models import AuditEvent, Editor, Issue, IssueStatus, Role
from tests.conftest import EditorClient, csrf_token_from, log_in
from tests.factories import make_editor, make_issue, make_item
from tests.test_auth import SAMPLE_ARGS


def editor_endpoints(app: Flask) -> list[tuple[str, str, str]]:
    """Return (endpoint, url, method) for every editor URL but the login form."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("editor.") or rule.endpoint in (
            "editor.auth.login",
            "editor.auth.logout",  # walked last: it ends the session
        ):
            continue
        url = rule.build({k: SAMPLE_ARGS[k] for k in rule.arguments})[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, url, method))
    return found


def logged_in_as(app: Flask, role: Role) -> EditorClient:
    """Return a client logged in with a new account of a role."""
    email = f"{role}@example.se"
    with app.app_context():
        make_editor(email=email, name=str(role), role=role)
    return log_in(app.test_client(), email)


def test_every_editor_endpoint_is_in_the_written_table(app: Flask) -> None:
    missing = [
        endpoint
        for endpoint, _url, _method in editor_endpoints(app)
        if not permissions.is_listed(endpoint)
    ]
    assert missing == [], "add these to newsletter/permissions.py TABLE"


def test_an_endpoint_missing_from_the_table_admits_administrators_only() -> None:
    assert permissions.admitted("editor.nowhere.page", "GET") == {Role.ADMIN}
    assert not permissions.may(Role.PUBLISHER, "editor.nowhere.page", "POST")


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_admitted_exactly_where_the_table_says(
    app: Flask, role: Role
) -> None:
    with app.app_context():
        issue = make_issue()
        make_item(issue)
    client = logged_in_as(app, role)
    walked = editor_endpoints(app)
    assert len(walked) > 50
    wrong = []
    for endpoint, url, method in walked:
        response = client.client.open(
            url, method=method, data={"csrf_token": client.token}
        )
        refused = response.status_code == 403
        if refused == permissions.may(role, endpoint, method):
            wrong.append((method, url, response.status_code))
        assert response.status_code != 500, (method, url)
    assert wrong == []


def test_anonymous_visitors_are_sent_to_login_not_refused(app, client):
    token = csrf_token_from(client)
    response = client.post("/editor/issues/1/send", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/editor/login?next=")


def test_a_reviewer_reads_an_issue_and_its_preview_but_cannot_change_or_send(app):
    with app.app_context():
        issue = make_issue(title="Vårens nummer")
        item_id = make_item(issue, title="Läsvärd artikel").id
        issue_id = issue.id
    reviewer = logged_in_as(app, Role.REVIEWER)
    page = reviewer.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Vårens nummer" in page
    assert "Skicka eller schemalägg" not in page  # no button it cannot use
    assert "Läsvärd artikel" in reviewer.get(
        f"/editor/issues/{issue_id}/preview"
    ).get_data(as_text=True)
    saved = reviewer.post(f"/editor/items/{item_id}", data={"title": "Ändrad"})
    assert saved.status_code == 403
    assert "Redaktör" in saved.get_data(as_text=True)  # says which role is needed
    assert "Granskare" in saved.get_data(as_text=True)  # and which role you have
    assert reviewer.post(f"/editor/issues/{issue_id}/send").status_code == 403
    schedule = reviewer.post(
        f"/editor/issues/{issue_id}/schedule", data={"when": "2030-01-01T09:00"}
    )
    assert schedule.status_code == 403
    assert reviewer.get("/editor/subscribers").status_code == 403
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == IssueStatus.DRAFT


def test_an_editor_may_not_send_and_does_not_see_the_send_button(app):
    with app.app_context():
        issue_id = make_issue().id
    editor = logged_in_as(app, Role.EDITOR)
    assert "Skicka eller schemalägg" not in editor.get(
        f"/editor/issues/{issue_id}"
    ).get_data(as_text=True)
    refused = editor.post(f"/editor/issues/{issue_id}/send")
    assert refused.status_code == 403
    assert "Utgivare" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == IssueStatus.DRAFT


def test_a_publisher_may_send(app):
    with app.app_context():
        issue = make_issue()
        make_item(issue)
        issue_id = issue.id
    publisher = logged_in_as(app, Role.PUBLISHER)
    assert "Skicka eller schemalägg" in publisher.get(
        f"/editor/issues/{issue_id}"
    ).get_data(as_text=True)
    assert publisher.get(f"/editor/issues/{issue_id}/send").status_code == 200
    response = publisher.post(f"/editor/issues/{issue_id}/send")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == IssueStatus.SENDING


def test_menus_show_only_what_the_role_may_open(app):
    reviewer = logged_in_as(app, Role.REVIEWER)
    page = reviewer.get("/editor/").get_data(as_text=True)
    assert "/editor/subscribers" not in page and "/editor/editors" not in page
    editor = logged_in_as(app, Role.EDITOR)
    page = editor.get("/editor/").get_data(as_text=True)
    assert "/editor/subscribers" in page and "/editor/editors" not in page


def test_an_administrator_changes_a_role_and_the_audit_trail_says_so(app, admin):
    with app.app_context():
        olle = make_editor(email="olle@example.se", name="Olle").id
        issue_id = make_issue().id
    form = admin.get(f"/editor/editors/{olle}").get_data(as_text=True)
    for name in ("Administratör", "Utgivare", "Redaktör", "Granskare"):
        assert name in form
    response = admin.post(
        f"/editor/editors/{olle}", data={"role": "publisher", "active": "y"}
    )
    assert response.status_code == 302
    listing = admin.get("/editor/editors").get_data(as_text=True)
    assert re.search(
        r"Olle</a></td>\s*<td>olle@example.se</td>\s*<td>Utgivare", listing
    )
    with app.app_context():
        assert db.session.get(Editor, olle).role == Role.PUBLISHER
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "editor.changed")
        ).one()
        assert event.changes == {"role": ["editor", "publisher"]}
        assert event.actor == "admin@example.se" and event.object_id == olle
    olle_now = log_in(app.test_client(), "olle@example.se")
    assert olle_now.get(f"/editor/issues/{issue_id}/send").status_code == 200


def test_account_audit_entries_never_hold_the_password(app, admin):
    admin.post(
        "/editor/editors",
        data={
            "name": "Nina",
            "email": "nina@example.se",
            "password": "ett långt lösenord",
            "confirm": "ett långt lösenord",
            "role": "reviewer",
        },
    )
    with app.app_context():
        nina = db.session.scalars(
            select(Editor).where(Editor.email == "nina@example.se")
        ).one()
        assert nina.role == Role.REVIEWER
        nina_id = nina.id
    admin.post(f"/editor/editors/{nina_id}", data={"role": "reviewer"})
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "editor", AuditEvent.object_id == nina_id)
            .order_by(AuditEvent.id)
        ).all()
        assert [e.action for e in events] == ["editor.created", "editor.deactivated"]
        assert events[0].changes["role"] == [None, "reviewer"]
        assert events[1].changes == {"active": [True, False]}
        text = str([e.changes for e in events])
    assert "lösenord" not in text and "argon2" not in text


def test_the_last_active_administrator_cannot_become_a_publisher(app, admin):
    with app.app_context():
        admin_id = db.session.scalar(select(Editor.id).where(Editor.is_admin))
    response = admin.post(
        f"/editor/editors/{admin_id}", data={"role": "publisher", "active": "y"}
    )
    assert response.status_code == 422
    assert "minst en aktiv administratör" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Editor, admin_id).role == Role.ADMIN
        assert not db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "editor.changed")
        ).all()


@pytest.mark.parametrize(
    ("flags", "role"),
    [
        (["--role", "reviewer"], Role.REVIEWER),
        (["--role", "publisher"], Role.PUBLISHER),
        (["--admin"], Role.ADMIN),
        ([], Role.EDITOR),
    ],
)
def test_create_editor_takes_a_role(app, flags, role):
    result = app.test_cli_runner().invoke(
        args=[
            "create-editor", "--email", "kim@example.se", "--name", "Kim",
            "--password", "tio tecken minst", *flags,
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Created {role} kim@example.se." in result.output
    with app.app_context():
        kim = db.session.scalars(select(Editor).where(Editor.name == "Kim")).one()
        assert kim.role == role


def test_create_editor_refuses_an_unknown_role(app):
    result = app.test_cli_runner().invoke(
        args=[
            "create-editor", "--email", "kim@example.se", "--name", "Kim",
            "--password", "tio tecken minst", "--role", "owner",
        ]
    )  # fmt: skip
    assert result.exit_code == 2


def test_demo_prints_a_working_admin_and_a_working_publisher(app):
    output = app.test_cli_runner().invoke(args=["demo"]).output
    found = dict(
        re.findall(r"as (\S+@example\.se) \(\w+\) with password (\S+)", output)
    )
    assert set(found) == {"redaktor@example.se", "utgivare@example.se"}
    publisher = log_in(
        app.test_client(), "utgivare@example.se", found["utgivare@example.se"]
    )
    admin = log_in(
        app.test_client(), "redaktor@example.se", found["redaktor@example.se"]
    )
    assert admin.get("/editor/editors").status_code == 200
    assert publisher.get("/editor/editors").status_code == 403
    with app.app_context():
        roles = dict(db.session.execute(select(Editor.email, Editor.role)).all())
    assert roles == {
        "redaktor@example.se": Role.ADMIN,
        "utgivare@example.se": Role.PUBLISHER,
    }
