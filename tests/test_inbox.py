"""The inbox: editors find partners' proposals and accept, return or decline
them; each decision is audited and emails the proposer in their language."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import (
    AuditEvent,
    Contact,
    IssueStatus,
    Item,
    OutboundMessage,
    Proposal,
    ProposalStatus,
)
from newsletter.models.states import PROPOSALS, move
from newsletter.models.types import utcnow
from newsletter.services import proposals
from newsletter.services.contributor_links import proposal_by_token
from tests.conftest import log_in
from tests.factories import make_editor, make_issue, make_item, theme
from tests.inbox_factories import make_link, make_proposal


def accept_form(proposal: Proposal, issue_id: int, **fields: str) -> dict[str, str]:
    """The accept form as the page fills it, with the editor's changes."""
    return {
        "issue_id": str(issue_id),
        "theme_id": str(proposal.theme_id),
        "title": proposal.title,
        "body": proposal.body,
        "contact_name": proposal.contact_name,
        "contact_phone": proposal.contact_phone,
        "contact_email": proposal.contact_email,
        "links-0-text": "",
        "links-0-url": "",
        "version": str(proposal.version),
        **fields,
    }


def nothing_decided(proposal_id: int) -> None:
    """Assert that no decision on the proposal was written."""
    proposal = db.session.get(Proposal, proposal_id)
    assert proposal.status == ProposalStatus.NEW
    assert (
        db.session.scalars(select(Item).where(Item.proposal_id.is_not(None))).all()
        == []
    )
    assert db.session.scalars(select(OutboundMessage)).all() == []
    assert (
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "proposal")
        ).all()
        == []
    )


def test_the_inbox_lists_new_proposals_newest_first_with_late_ones_marked(app, editor):
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars 2027")
        make_proposal(title="Äldre förslaget", issue_id=issue.id,
                      submitted_at=utcnow() - timedelta(days=2))  # fmt: skip
        make_proposal(title="Nyare förslaget", late=True, theme_slug="barn-och-unga")
        make_proposal(title="Redan godkänt", status=ProposalStatus.ACCEPTED)
    page = editor.get("/editor/inbox").get_data(as_text=True)
    assert page.index("Nyare förslaget") < page.index("Äldre förslaget")
    assert "Redan godkänt" not in page
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    newer = next(r for r in rows if "Nyare förslaget" in r)
    older = next(r for r in rows if "Äldre förslaget" in r)
    assert 'class="late"' in newer and 'class="late"' not in older
    assert "Kalmar kommun" in older and "Äldre" in older
    assert "Nyhetsbrev mars 2027" in older and "Barn och unga" in newer
    # The menu counts what waits, on every editor page.
    menu = editor.get("/editor/").get_data(as_text=True)
    assert re.search(r'Inkorg <span class="menu-count">2<', menu)


def test_the_inbox_filters_by_state_issue_theme_and_organisation(app, editor):
    with app.app_context():
        march = make_issue("Nyhetsbrev mars 2027")
        june = make_issue("Nyhetsbrev juni 2027")
        borgholm = make_link("Borgholms kommun", "info@borgholm.se")
        make_proposal(title="Mars äldre", issue_id=march.id)
        make_proposal(title="Juni äldre", issue_id=june.id)
        make_proposal(title="Mars barn", issue_id=march.id, theme_slug="barn-och-unga")
        make_proposal(borgholm, title="Borgholm mars", issue_id=march.id)
        make_proposal(title="Tillbaka", status=ProposalStatus.RETURNED)
        march_id, aldre_id = march.id, theme("aldre").id

    def titles(query: str) -> set[str]:
        page = editor.get(f"/editor/inbox?{query}").get_data(as_text=True)
        return set(re.findall(r'/editor/inbox/\d+">([^<]+)</a>', page))

    assert titles(f"issue={march_id}") == {"Mars äldre", "Mars barn", "Borgholm mars"}
    assert titles(f"issue={march_id}&theme={aldre_id}") == {
        "Mars äldre",
        "Borgholm mars",
    }
    assert titles("organisation=Borgholms+kommun") == {"Borgholm mars"}
    assert titles("status=returned") == {"Tillbaka"}
    assert titles("status=nonsense") == titles("")


def test_the_proposal_page_shows_everything_sent_with_the_text_sanitised(app, editor):
    with app.app_context():
        proposal = make_proposal(
            body="Tre **nya** platser.<script>alert(1)</script>",
            contact_name="Lena Berg",
            contact_title="Utvecklingsledare",
            contact_organisation="Kalmar kommun",
            note="Gärna i marsnumret.",
            links=[("Läs mer", "https://www.kalmar.se/traffpunkter")],
            late=True,
        )
        proposal_id = proposal.id
    page = editor.get(f"/editor/inbox/{proposal_id}").get_data(as_text=True)
    assert "<strong>nya</strong>" in page and "<script>alert" not in page
    assert "Lena Berg, Utvecklingsledare, Kalmar kommun" in page
    assert "Gärna i marsnumret." in page and "lena.berg@kalmar.se" in page
    assert "https://www.kalmar.se/traffpunkter" in page
    assert 'class="late"' in page


def test_accepting_with_edits_adds_the_item_at_the_end_of_the_chosen_section(
    app, editor
):
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars 2027")
        make_item(issue, "barn-och-unga", title="Redan i numret")
        proposal = make_proposal(
            issue_id=issue.id,
            contact_name="Lena Berg",
            contact_email="lena.berg@kalmar.se",
            links=[("Läs mer", "https://www.kalmar.se/traffpunkter")],
        )
        form = accept_form(
            proposal,
            issue.id,
            title="Nya träffpunkter för äldre och unga",
            theme_id=str(theme("barn-och-unga").id),
            **{"links-0-text": "Läs mer", "links-0-url": "https://www.kalmar.se/t"},
        )
        proposal_id = proposal.id
    response = editor.post(f"/editor/inbox/{proposal_id}/accept", data=form)
    assert response.status_code == 302
    with app.app_context():
        item = db.session.scalars(
            select(Item).where(Item.proposal_id == proposal_id)
        ).one()
        assert response.headers["Location"] == f"/editor/items/{item.id}"
        assert item.title == "Nya träffpunkter för äldre och unga"
        assert (item.theme.slug, item.position) == ("barn-och-unga", 1)
        assert (item.contact_name, item.contact_email) == (
            "Lena Berg",
            "lena.berg@kalmar.se",
        )
        assert [(ln.label, ln.url) for ln in item.links] == [
            ("Läs mer", "https://www.kalmar.se/t")
        ]
        proposal = db.session.get(Proposal, proposal_id)
        assert proposal.status == ProposalStatus.ACCEPTED
        assert proposal.decided_by == "Eva Editor" and proposal.decided_at
        (event,) = db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "proposal")
        ).all()
        assert event.action == "proposal.accepted"
        assert event.changes["item_id"] == [None, item.id]
        assert event.changes["issue_id"] == [None, issue.id]
        assert event.actor == "editor@example.se"
        item_id = item.id
    page = editor.get(f"/editor/items/{item_id}").get_data(as_text=True)
    assert f'href="/editor/inbox/{proposal_id}">Föreslagen av Kalmar kommun' in page
    # The proposal now points to its item, and cannot be decided again.
    page = editor.get(f"/editor/inbox/{proposal_id}").get_data(as_text=True)
    assert f"/editor/items/{item_id}" in page and "/accept" not in page


def test_accepting_can_save_the_new_contact_in_the_directory(app, editor):
    with app.app_context():
        issue = make_issue()
        proposal = make_proposal(
            issue_id=issue.id,
            contact_name="Lena Berg",
            contact_title="Utvecklingsledare",
            contact_organisation="Kalmar kommun",
            contact_email="lena.berg@kalmar.se",
        )
        proposal_id = proposal.id
        form = accept_form(proposal, issue.id, save_contact="y")
    page = editor.get(f"/editor/inbox/{proposal_id}").get_data(as_text=True)
    assert "finns inte i kontaktregistret" in page
    editor.post(f"/editor/inbox/{proposal_id}/accept", data=form)
    with app.app_context():
        contact = db.session.scalars(select(Contact)).one()
        assert (contact.name, contact.title, contact.organisation, contact.email) == (
            "Lena Berg",
            "Utvecklingsledare",
            "Kalmar kommun",
            "lena.berg@kalmar.se",
        )


def test_the_saved_contact_fills_the_accept_form_without_javascript(app, editor):
    with app.app_context():
        issue = make_issue()
        saved = Contact(name="Karin Ek", phone="010-765 43 21", email="karin@ek.se")
        db.session.add(saved)
        proposal = make_proposal(issue_id=issue.id, contact_name="Lena Berg")
        proposal_id = proposal.id
        form = accept_form(
            proposal, issue.id, saved_contact=str(saved.id), use_contact="1"
        )
    response = editor.post(f"/editor/inbox/{proposal_id}/accept", data=form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'value="Karin Ek"' in page and 'value="karin@ek.se"' in page
    with app.app_context():
        nothing_decided(proposal_id)


def test_accepting_into_an_issue_that_was_sent_is_refused_and_writes_nothing(
    app, editor
):
    with app.app_context():
        sent = make_issue("Skickat nummer", status=IssueStatus.SENT)
        make_issue("Nästa nummer")
        proposal = make_proposal(issue_id=sent.id)
        proposal_id = proposal.id
        form = accept_form(proposal, sent.id)
        sent_id = sent.id
    page = editor.get(f"/editor/inbox/{proposal_id}").get_data(as_text=True)
    # Only editable issues are offered.
    assert f'value="{sent_id}">Skickat nummer</option>' not in page
    assert ">Nästa nummer</option>" in page
    response = editor.post(f"/editor/inbox/{proposal_id}/accept", data=form)
    assert response.status_code == 422
    assert "Det numret kan inte längre ändras" in response.get_data(as_text=True)
    with app.app_context():
        nothing_decided(proposal_id)


def test_a_second_decision_on_the_same_version_is_refused_and_writes_nothing(
    app, editor
):
    with app.app_context():
        make_editor("other@example.se", "Olle Other")
        issue = make_issue()
        proposal = make_proposal(issue_id=issue.id)
        proposal_id = proposal.id
        form = accept_form(proposal, issue.id)
    other = log_in(app.test_client(), "other@example.se")
    # Both opened the page at version 1; Olle declines first.
    declined = other.post(
        f"/editor/inbox/{proposal_id}/decline",
        data={"decline-csrf_token": other.token, "decline-version": "1"},
    )
    assert declined.status_code == 302
    response = editor.post(f"/editor/inbox/{proposal_id}/accept", data=form)
    assert response.status_code == 302
    page = editor.get(response.headers["Location"]).get_data(as_text=True)
    assert "En annan redaktör har hanterat förslaget" in page
    with app.app_context():
        proposal = db.session.get(Proposal, proposal_id)
        assert (proposal.status, proposal.decided_by) == (
            ProposalStatus.DECLINED,
            "Olle Other",
        )
        assert db.session.scalars(select(Item)).all() == []
        assert len(db.session.scalars(select(OutboundMessage)).all()) == 1


def test_returning_requires_a_message(app, editor):
    with app.app_context():
        proposal = make_proposal()
        proposal_id = proposal.id
    response = editor.post(
        f"/editor/inbox/{proposal_id}/return",
        data={"return-csrf_token": editor.token, "return-version": "1"},
    )
    assert response.status_code == 422
    assert "Skriv vad förslagsställaren ska ändra." in response.get_data(as_text=True)
    with app.app_context():
        nothing_decided(proposal_id)


def test_decision_forms_without_the_csrf_token_change_nothing(app, editor):
    with app.app_context():
        issue = make_issue()
        proposal = make_proposal(issue_id=issue.id)
        proposal_id = proposal.id
        form = accept_form(proposal, issue.id)
    raw = editor.client
    assert raw.post(f"/editor/inbox/{proposal_id}/accept", data=form).status_code == 400
    for action in ("return", "decline"):
        response = raw.post(
            f"/editor/inbox/{proposal_id}/{action}",
            data={f"{action}-version": "1", f"{action}-message": "Nej"},
        )
        assert response.status_code == 400
    with app.app_context():
        nothing_decided(proposal_id)


def mail_editor(mail_app):
    """Log an editor in on the app whose worker sends to the test SMTP server."""
    with mail_app.app_context():
        make_editor()
    return log_in(mail_app.test_client(), "editor@example.se")


def test_accepting_emails_the_proposer_in_their_own_language(mail_app, smtp_server):
    client = mail_editor(mail_app)
    with mail_app.app_context():
        issue = make_issue("Nyhetsbrev mars 2027")
        proposal = make_proposal(issue_id=issue.id, language="en")
        proposal_id = proposal.id
        form = accept_form(proposal, issue.id)
    client.post(f"/editor/inbox/{proposal_id}/accept", data=form)
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    assert message["To"] == "lena.berg@kalmar.se"
    assert "is accepted" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "It will appear in Nyhetsbrev mars 2027." in text
    assert "https://nyhetsbrev.example.se/contribute/proposal/" in text


def test_the_swedish_acceptance_email_speaks_of_the_proposal_as_det(
    mail_app, smtp_server
):
    client = mail_editor(mail_app)
    with mail_app.app_context():
        issue = make_issue("Nyhetsbrev mars 2027")
        proposal = make_proposal(issue_id=issue.id, language="sv")
        proposal_id = proposal.id
        form = accept_form(proposal, issue.id)
    client.post(f"/editor/inbox/{proposal_id}/accept", data=form)
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    text = " ".join(message.get_body(("plain",)).get_content().split())
    # "ett förslag": the pronoun is "det", not "den".
    assert "Redaktionen har godkänt det. Det kommer med i Nyhetsbrev mars 2027." in (
        text
    )


def test_returning_emails_the_message_and_the_private_link(mail_app, smtp_server):
    client = mail_editor(mail_app)
    with mail_app.app_context():
        proposal = make_proposal()
        proposal_id = proposal.id
    response = client.post(
        f"/editor/inbox/{proposal_id}/return",
        data={
            "return-csrf_token": client.token,
            "return-version": "1",
            "return-message": "Lägg till datum & plats, tack.",
        },
    )
    assert response.status_code == 302
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    assert "ändra ditt förslag" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "Lägg till datum & plats, tack." in text
    html = message.get_body(("html",)).get_content()
    assert "datum &amp; plats" in html
    token = re.search(r"/contribute/proposal/(\S+)", text).group(1)
    with mail_app.app_context():
        assert proposal_by_token(token).id == proposal_id
        proposal = db.session.get(Proposal, proposal_id)
        assert proposal.status == ProposalStatus.RETURNED
        assert proposal.editor_message == "Lägg till datum & plats, tack."
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "proposal")
        ).all()
        assert actions == ["proposal.returned"]


def test_declining_needs_no_message_and_tells_the_proposer(mail_app, smtp_server):
    client = mail_editor(mail_app)
    with mail_app.app_context():
        proposal = make_proposal(status=ProposalStatus.RETURNED)
        proposal_id = proposal.id
    response = client.post(
        f"/editor/inbox/{proposal_id}/decline",
        data={"decline-csrf_token": client.token, "decline-version": "1"},
    )
    assert response.status_code == 302
    Worker(mail_app).run(once=True)
    (message,) = smtp_server.sink.messages()
    assert message["Subject"].startswith("Om ditt förslag")
    text = message.get_body(("plain",)).get_content()
    assert "inte publicera det den här gången" in text
    assert "meddelande från redaktionen" not in text
    with mail_app.app_context():
        proposal = db.session.get(Proposal, proposal_id)
        assert proposal.status == ProposalStatus.DECLINED
        (event,) = db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "proposal")
        ).all()
        assert event.action == "proposal.declined"
        assert event.changes["status"] == ["returned", "declined"]


def test_the_demo_gives_the_inbox_one_new_and_one_late_proposal_once(app):
    runner = app.test_cli_runner()
    for _run in range(2):
        assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        proposals = db.session.scalars(select(Proposal).order_by(Proposal.id)).all()
        assert [(p.link.organisation, p.status, p.late) for p in proposals] == [
            ("Kalmar kommun", ProposalStatus.NEW, False),
            ("Kalmar kommun", ProposalStatus.NEW, True),
        ]


def test_each_email_keeps_the_message_written_with_its_decision(mail_app, smtp_server):
    with mail_app.app_context():
        proposal = make_proposal()
        proposals.return_proposal(proposal.id, 1, "Lägg till datum.", "Eva", utcnow())
        db.session.commit()
        # The partner answers, and another editor declines without a word,
        # all before the worker sent the first email.
        proposal = db.session.get(Proposal, proposal.id)
        move(proposal, PROPOSALS.step(ProposalStatus.RETURNED, to=ProposalStatus.NEW))
        db.session.commit()
        proposals.decline(proposal.id, proposal.version, "", "Per", utcnow())
        db.session.commit()
    Worker(mail_app).run(once=True)
    texts = {
        m["Subject"]: m.get_body(("plain",)).get_content()
        for m in smtp_server.sink.messages()
    }
    (returned,) = [text for subject, text in texts.items() if "ändra" in subject]
    assert "Lägg till datum." in returned
    assert len(texts) == 2
