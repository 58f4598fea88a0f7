"""Review: a second person's approval before an issue goes out, and comments."""

from __future__ import annotations

import re

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import AuditEvent, Issue, IssueStatus, Item, Role
from newsletter.models.review import Comment
from newsletter.models.types import utcnow
from newsletter.services import review, sending, settings
from tests.conftest import log_in
from tests.factories import make_editor, make_issue, make_item, make_subscriber


def actions() -> list[str]:
    """The audit actions recorded, oldest first."""
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def two_publishers(app):
    """Make approval required by default: two publishers; return their clients."""
    with app.app_context():
        make_editor("pia@example.se", "Pia Publicist", role=Role.PUBLISHER)
        make_editor("per@example.se", "Per Publicist", role=Role.PUBLISHER)
    return log_in(app.test_client(), "pia@example.se"), log_in(
        app.test_client(), "per@example.se"
    )


def issue_edited_by(client, app) -> tuple[int, int]:
    """An issue with an item, the item last saved by the client's editor."""
    with app.app_context():
        issue = make_issue(slug="mars")
        item = make_item(issue, "aldre", "Träff för äldre")
        issue_id, item_id, theme_id = issue.id, item.id, item.theme_id
    save_item(client, item_id, theme_id, "Träff för äldre i Borås")
    return issue_id, item_id


def save_item(client, item_id: int, theme_id: int, title: str) -> None:
    """Save an item's title through the item form."""
    with client.client.application.app_context():
        version = db.session.get(Item, item_id).version
    response = client.post(
        f"/editor/items/{item_id}",
        data={
            "theme_id": str(theme_id),
            "title": title,
            "body": "",
            "contact_name": "",
            "contact_phone": "",
            "contact_email": "",
            "links-0-text": "",
            "links-0-url": "",
            "version": str(version),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_approval_is_required_by_default_with_two_publishers(app):
    with app.app_context():
        make_editor("pia@example.se", "Pia", role=Role.PUBLISHER)
        make_editor("admin@example.se", "Ada", is_admin=True)
        assert not settings.require_approval()  # admins do not count
        make_editor("per@example.se", "Per", role=Role.PUBLISHER)
        assert settings.require_approval()
        settings.set_setting(settings.REQUIRE_APPROVAL, False, "Ada")
        db.session.commit()
        assert not settings.require_approval()
        assert "setting.changed" in actions()


def test_the_admin_chooses_approval_on_the_settings_page(app, admin, editor):
    assert editor.get("/editor/settings").status_code == 403
    page = admin.get("/editor/settings").get_data(as_text=True)
    assert "Automatiskt: på när det finns två eller fler utgivare" in page
    admin.post("/editor/settings", data={"require_approval": "on"})
    with app.app_context():
        assert settings.require_approval()
    admin.post("/editor/settings", data={"require_approval": "automatic"})
    with app.app_context():
        assert not settings.require_approval()
        assert actions().count("setting.changed") == 2


def test_sending_scheduling_and_test_sends_wait_for_approval(app):
    pia, _ = two_publishers(app)
    issue_id, _ = issue_edited_by(pia, app)
    response = pia.post(f"/editor/issues/{issue_id}/send", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Numret måste godkännas av en utgivare" in page
    pia.post(
        f"/editor/issues/{issue_id}/schedule", data={"send_at": "2099-01-01T08:00"}
    )
    refused = pia.post(
        f"/editor/issues/{issue_id}/test", data={"addresses": "kollega@example.se"}
    )
    assert refused.status_code == 422
    assert "Numret måste godkännas" in refused.get_data(as_text=True)
    own = pia.post(
        f"/editor/issues/{issue_id}/test", data={"addresses": "pia@example.se"}
    )
    assert own.status_code == 302
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == IssueStatus.DRAFT


def test_the_command_line_refuses_an_unapproved_issue_and_says_why(app):
    pia, _ = two_publishers(app)
    issue_edited_by(pia, app)
    result = app.test_cli_runner().invoke(args=["issues", "send", "mars"])
    assert result.exit_code != 0
    assert "mars cannot be sent" in result.output
    assert "godkännas" in result.output or "approved" in result.output


def test_the_last_editor_cannot_approve_but_another_publisher_can(app):
    pia, per = two_publishers(app)
    issue_id, _ = issue_edited_by(pia, app)
    page = pia.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Du gjorde den senaste ändringen" in page
    assert 'disabled aria-describedby="approve-refusal"' in page
    with app.app_context():
        version = db.session.get(Issue, issue_id).version
    pia.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_at is None
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.approved_by == "Per Publicist"
        assert "issue.approved" in actions()
    page = pia.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Godkänt av Per Publicist" in page


def test_an_editor_who_is_not_a_publisher_cannot_approve(app, editor):
    with app.app_context():
        issue = make_issue()
        issue_id = issue.id
    editor.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": 1})
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_at is None


def test_a_change_after_approval_withdraws_it_and_the_page_says_who_and_what(app):
    pia, per = two_publishers(app)
    issue_id, item_id = issue_edited_by(pia, app)
    with app.app_context():
        version = db.session.get(Issue, issue_id).version
        theme_id = db.session.get(Issue, issue_id).items[0].theme_id
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    save_item(pia, item_id, theme_id, "Träff för äldre i Alingsås")
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_at is None
        assert "issue.approval_withdrawn" in actions()
    page = per.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Godkännandet drogs tillbaka" in page
    assert "när Pia Publicist ändrade artikeln ”Träff för äldre i Alingsås”" in page
    # Pia changed it last: Per approves again, and then it can go out.
    with app.app_context():
        version = db.session.get(Issue, issue_id).version
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    pia.post(f"/editor/issues/{issue_id}/send")
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == IssueStatus.SENDING


def test_a_scheduled_issue_goes_back_to_draft_when_its_approval_is_withdrawn(app):
    pia, per = two_publishers(app)
    issue_id, item_id = issue_edited_by(pia, app)
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        version, theme_id = issue.version, issue.items[0].theme_id
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    pia.post(
        f"/editor/issues/{issue_id}/schedule", data={"send_at": "2099-01-01T08:00"}
    )
    with app.app_context():
        assert db.session.get(Issue, issue_id).status == IssueStatus.SCHEDULED
    save_item(pia, item_id, theme_id, "Ändrad efter schemaläggning")
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.status == IssueStatus.DRAFT and issue.scheduled_at is None


def test_a_review_request_emails_the_named_reviewers(mail_app, smtp_server):
    with mail_app.app_context():
        make_editor("eva@example.se", "Eva Editor")
        rita = make_editor("rita@example.se", "Rita Granskare", role=Role.REVIEWER)
        make_editor("olle@example.se", "Olle Granskare", role=Role.REVIEWER)
        issue = make_issue("Nyhetsbrev mars", slug="mars")
        issue_id, rita_id = issue.id, rita.id
    eva = log_in(mail_app.test_client(), "eva@example.se")
    page = eva.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Rita Granskare" in page and "Be om granskning" in page
    eva.post(
        f"/editor/issues/{issue_id}/review",
        data={"review-reviewers": str(rita_id), "review-message": "Titta på mars"},
    )
    Worker(mail_app).run(once=True)
    messages = smtp_server.sink.messages()
    assert [m["To"] for m in messages] == ["Rita Granskare <rita@example.se>"]
    text = messages[0].get_body(("plain",)).get_content()
    assert "Eva Editor ber dig granska Nyhetsbrev mars" in text
    assert f"https://nyhetsbrev.example.se/editor/issues/{issue_id}#review" in text
    assert "Titta på mars" in text
    with mail_app.app_context():
        assert db.session.get(Issue, issue_id).review_requested_at is not None
        assert "issue.review_requested" in actions()


def test_comments_are_listed_resolved_and_never_reach_readers(app, editor):
    with app.app_context():
        make_subscriber()
        issue = make_issue(slug="april")
        item = make_item(issue, "aldre", "Seniorträff")
        issue_id, item_id = issue.id, item.id
    editor.post(
        f"/editor/issues/{issue_id}/comments",
        data={"comment-item_id": "0", "comment-body": "Hemlig anmärkning om numret"},
    )
    editor.post(
        f"/editor/issues/{issue_id}/comments",
        data={"comment-item_id": str(item_id), "comment-body": "Kolla datumet"},
    )
    empty = editor.post(
        f"/editor/issues/{issue_id}/comments",
        data={"comment-item_id": "0", "comment-body": ""},
        follow_redirects=True,
    )
    assert "Skriv en kommentar." in empty.get_data(as_text=True)
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "Hemlig anmärkning om numret" in page and "Kolla datumet" in page
    item_page = editor.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert "Kolla datumet" in item_page
    assert "Hemlig anmärkning" not in item_page
    with app.app_context():
        comment_id = db.session.scalars(select(Comment.id).order_by(Comment.id)).first()
    editor.post(f"/editor/comments/{comment_id}/resolve")
    with app.app_context():
        assert db.session.get(Comment, comment_id).resolved_by == "Eva Editor"
        assert [c.body for c in review.comments(issue_id)][0] == "Kolla datumet"
        assert {"comment.added", "comment.resolved"} <= set(actions())
    page = editor.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    assert "1 löst kommentar" in page
    email = editor.get(f"/editor/issues/{issue_id}/email.html").get_data(as_text=True)
    assert "Seniorträff" in email and "Kolla datumet" not in email
    with app.app_context():
        sending.start_sending(issue_id, utcnow())
        db.session.commit()
    archive = app.test_client().get("/archive/april").get_data(as_text=True)
    assert "Seniorträff" in archive
    assert "Kolla datumet" not in archive and "Hemlig" not in archive
    feed = app.test_client().get("/feed.xml").get_data(as_text=True)
    assert "Kolla datumet" not in feed


def test_approving_a_page_opened_before_an_item_changed_is_refused(app):
    pia, per = two_publishers(app)
    issue_id, item_id = issue_edited_by(pia, app)
    page = per.get(f"/editor/issues/{issue_id}").get_data(as_text=True)
    seen = dict(re.findall(r'name="(approve-\w+)"[^>]*value="([^"]*)"', page))
    assert set(seen) >= {"approve-version", "approve-stamp"}
    with app.app_context():
        theme_id = db.session.get(Item, item_id).theme_id
    save_item(pia, item_id, theme_id, "Ändrad medan Per läste")
    per.post(f"/editor/issues/{issue_id}/approve", data=seen)
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_at is None


def test_saving_an_unchanged_item_keeps_the_approval(app):
    pia, per = two_publishers(app)
    issue_id, item_id = issue_edited_by(pia, app)
    with app.app_context():
        version = db.session.get(Issue, issue_id).version
        theme_id = db.session.get(Item, item_id).theme_id
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    save_item(pia, item_id, theme_id, "Träff för äldre i Borås")  # as it was
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_by == "Per Publicist"
        assert "issue.approval_withdrawn" not in actions()


def test_the_worker_never_starts_a_scheduled_issue_that_lacks_approval(app):
    with app.app_context():
        issue = make_issue(slug="april")
        make_item(issue, "aldre", "Träff")
        sending.schedule(issue.id, utcnow())  # approval was not required then
        db.session.commit()
        settings.set_setting(settings.REQUIRE_APPROVAL, True, "Ada")
        db.session.commit()
        assert sending.start_due_issues(utcnow()) == []
        db.session.commit()
        issue = db.session.get(Issue, issue.id)
        assert issue.status == IssueStatus.DRAFT and issue.scheduled_at is None
        assert "issue.unscheduled_unapproved" in actions()


def test_an_issue_saved_before_the_upgrade_is_not_approved_by_its_last_editor(app):
    pia, per = two_publishers(app)
    with app.app_context():
        # The previous release kept only the name of who saved last.
        issue = make_issue(slug="maj", updated_by="Pia Publicist")
        assert issue.last_editor_id is None
        issue_id, version = issue.id, issue.version
    pia.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_at is None
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    with app.app_context():
        assert db.session.get(Issue, issue_id).approved_by == "Per Publicist"


def test_the_send_page_says_whose_approval_is_missing_and_offers_no_send(app):
    pia, per = two_publishers(app)
    issue_id, _ = issue_edited_by(pia, app)
    send_form = f'action="/editor/issues/{issue_id}/send"'
    schedule_form = f'action="/editor/issues/{issue_id}/schedule"'
    page = pia.get(f"/editor/issues/{issue_id}/send").get_data(as_text=True)
    assert "Numret måste godkännas av en utgivare" in page
    assert "Det kan godkännas av: Per Publicist." in page
    assert f'href="/editor/issues/{issue_id}#review"' in page
    assert send_form not in page and schedule_form not in page
    assert ">Skicka nu</button>" not in page
    own = per.get(f"/editor/issues/{issue_id}/send").get_data(as_text=True)
    assert "Du kan själv godkänna det på numrets sida." in own
    assert send_form not in own
    with app.app_context():
        version = db.session.get(Issue, issue_id).version
    per.post(f"/editor/issues/{issue_id}/approve", data={"approve-version": version})
    approved = pia.get(f"/editor/issues/{issue_id}/send").get_data(as_text=True)
    assert "Numret måste godkännas" not in approved
    assert send_form in approved and schedule_form in approved
    assert ">Skicka nu</button>" in approved
