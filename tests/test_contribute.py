"""A partner proposes an item through a contribution link and follows it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.mail.worker import Worker
from newsletter.models import (
    AuditEvent,
    Contact,
    ContributionLink,
    OutboundMessage,
    Proposal,
    ProposalLink,
    ProposalStatus,
)
from newsletter.models.states import PROPOSALS, move
from newsletter.models.types import utcnow
from newsletter.services import identity, plan
from newsletter.services.contributor_links import proposal_token, set_token
from tests.conftest import csrf_token_from
from tests.factories import make_issue

PRIVATE_LINK = re.compile(r"/contribute/proposal/[A-Za-z0-9._\-]+")


def make_link(organisation: str = "Kalmar kommun", **fields: Any) -> str:
    """Create a contribution link and return its token."""
    link = ContributionLink(
        organisation=organisation, contact_email="kontakt@kalmar.example.se", **fields
    )
    token = set_token(link)
    db.session.add(link)
    db.session.commit()
    return token


def plan_issue(deadline_in_days: int = 10, publish_in_days: int = 30) -> int:
    """A draft issue planned for a coming day, with a contribution deadline."""
    today = plan.local_day(utcnow())
    issue = make_issue(
        "Nyhetsbrev mars 2027",
        publish_on=today + timedelta(days=publish_in_days),
        contribution_deadline=today + timedelta(days=deadline_in_days),
    )
    return issue.id


def proposal_form(**overrides: Any) -> dict[str, Any]:
    """A filled proposal form, changed by the given fields."""
    data = {
        "title": "Föräldraträffar i Kalmar",
        "body": "Vi startar **föräldraträffar** i vår.",
        "theme_id": "1",  # Barn och unga, the first default theme
        "contact_name": "Karin Berg",
        "contact_title": "Samordnare",
        "contact_organisation": "Kalmar kommun",
        "contact_phone": "0480-450 00",
        "contact_email": "karin.berg@kalmar.example.se",
        "links-0-text": "Anmälan",
        "links-0-url": "https://kalmar.example.se/anmalan",
        "note": "Gärna i marsnumret.",
        "proposer_email": "Karin.Berg@Kalmar.example.se",
    }
    data.update(overrides)
    return data


def send(client: FlaskClient, url: str, **overrides: Any) -> Any:
    """Open a form page and post the form the way a browser would."""
    token = csrf_token_from(client, url)
    form = {"csrf_token": token, **proposal_form(**overrides)}
    version = re.search(
        r'name="version"[^>]*value="(\d+)"', client.get(url).get_data(as_text=True)
    )
    if version and "version" not in overrides:
        form["version"] = version.group(1)
    return client.post(url, data=form)


def only_proposal(app: Flask) -> Proposal:
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        db.session.expunge(proposal)
        return proposal


def private_path(app: Flask) -> str:
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        return f"/contribute/proposal/{proposal_token(proposal)}"


def test_the_form_names_the_organisation_the_issue_and_its_deadline(app, client):
    with app.app_context():
        token = make_link()
        today = plan.local_day(utcnow())
        issue_id = plan_issue()
    page = client.get(f"/contribute/{token}").get_data(as_text=True)
    assert '<html lang="sv">' in page
    assert "Kalmar kommun" in page and "Nyhetsbrev mars 2027" in page
    with app.test_request_context(), app.app_context():
        from flask_babel import format_date

        deadline = format_date(today + timedelta(days=10), "long")
    assert f"Sista dag för förslag: {deadline}" in page
    assert "markeras som sent" not in page
    assert issue_id


def test_without_a_planned_issue_the_proposal_goes_to_the_next(app, client):
    with app.app_context():
        token = make_link()
    page = client.get(f"/contribute/{token}").get_data(as_text=True)
    assert "nästa nummer" in page


def test_a_proposal_is_stored_with_links_audit_and_a_queued_receipt(app, client):
    with app.app_context():
        token = make_link()
        issue_id = plan_issue()
    response = send(
        client,
        f"/contribute/{token}",
        **{"links-2-text": "Program", "links-2-url": "http://kalmar.example.se/p"},
    )
    assert response.status_code == 302
    assert PRIVATE_LINK.search(response.headers["Location"])
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        assert proposal.status == ProposalStatus.NEW
        assert proposal.issue_id == issue_id and not proposal.late
        assert proposal.language == "sv"
        assert proposal.proposer_email == "karin.berg@kalmar.example.se"
        assert [(x.label, x.url) for x in proposal.links] == [
            ("Anmälan", "https://kalmar.example.se/anmalan"),
            ("Program", "http://kalmar.example.se/p"),
        ]
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "proposal")
        ).one()
        assert (event.action, event.actor_kind, event.actor) == (
            "proposal.submitted",
            "partner",
            "Kalmar kommun",
        )
        assert event.object_id == proposal.id
        assert token not in str(event.changes) and proposal.edit_secret[:32] not in str(
            event.changes
        )
        message = db.session.scalars(select(OutboundMessage)).one()
        assert message.template == "proposal_received"
        assert message.context == {"proposal_id": proposal.id}
        assert message.to_address == "karin.berg@kalmar.example.se"
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tack! Vi har tagit emot ditt förslag." in thanks
    assert PRIVATE_LINK.search(thanks)


def test_the_receipt_arrives_and_its_private_link_opens_the_proposal(
    mail_app, smtp_server
):
    client = mail_app.test_client()
    with mail_app.app_context():
        token = make_link()
        plan_issue()
    send(client, f"/contribute/{token}")
    assert smtp_server.sink.received == []  # the web process never sends
    Worker(mail_app).run(once=True)
    message = smtp_server.sink.messages()[0]
    assert message["To"] == "karin.berg@kalmar.example.se"
    # Nothing the proposer typed: the address was never confirmed.
    assert "Föräldraträffar" not in message["Subject"]
    assert "Föräldraträffar" not in message.get_body(("plain",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Barn och unga" in text and "Nyhetsbrev mars 2027" in text
    html = message.get_body(("html",)).get_content()
    link = re.search(
        r"https://nyhetsbrev\.example\.se(/contribute/proposal/\S+)", text
    ).group(1)
    assert link in html
    page = client.get(link)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Föräldraträffar i Kalmar" in body and "väntar på en redaktör" in body


def test_the_proposer_changes_a_new_proposal(app, client):
    with app.app_context():
        token = make_link()
    send(client, f"/contribute/{token}")
    path = private_path(app)
    response = send(client, path, title="Föräldraträffar i hela länet", note="")
    assert response.status_code == 302
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        assert proposal.title == "Föräldraträffar i hela länet"
        assert proposal.status == ProposalStatus.NEW and proposal.version == 2
        changed = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "proposal.changed")
        ).one()
        assert changed.changes["title"] == [
            "Föräldraträffar i Kalmar",
            "Föräldraträffar i hela länet",
        ]
        assert changed.actor == "Kalmar kommun"


def set_status(app: Flask, status: ProposalStatus, message: str = "") -> None:
    """Move the proposal as an editor would, through the lifecycle."""
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        move(proposal, PROPOSALS.step(ProposalStatus.NEW, to=status))
        proposal.editor_message = message
        db.session.commit()


def test_a_returned_proposal_changed_goes_back_to_the_editors(app, client):
    with app.app_context():
        token = make_link()
    send(client, f"/contribute/{token}")
    path = private_path(app)
    set_status(app, ProposalStatus.RETURNED, "Korta texten, tack.")
    page = client.get(path).get_data(as_text=True)
    assert "Korta texten, tack." in page and "Spara ändringar" in page
    assert send(client, path, body="Kortare.").status_code == 302
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        assert proposal.status == ProposalStatus.NEW and proposal.body == "Kortare."
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "proposal.changed")
        ).one()
        assert event.changes["status"] == ["returned", "new"]


@pytest.mark.parametrize("status", [ProposalStatus.ACCEPTED, ProposalStatus.DECLINED])
def test_a_decided_proposal_is_read_only(app, client, status):
    with app.app_context():
        token = make_link()
    send(client, f"/contribute/{token}")
    path = private_path(app)
    set_status(app, status, "Tack, men inte den här gången.")
    page = client.get(path).get_data(as_text=True)
    assert 'name="title"' not in page and "Föräldraträffar i Kalmar" in page
    if status == ProposalStatus.DECLINED:
        assert "Tack, men inte den här gången." in page
    token_value = csrf_token_from(client, f"/contribute/{token}")
    client.post(path, data={"csrf_token": token_value, **proposal_form(title="Ny")})
    assert only_proposal(app).title == "Föräldraträffar i Kalmar"


def test_a_stale_form_says_so_and_keeps_what_was_typed(app, client):
    with app.app_context():
        token = make_link()
    send(client, f"/contribute/{token}")
    path = private_path(app)
    send(client, path, title="Ändrad i en annan flik")
    response = send(client, path, title="Min nya rubrik", version="1")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "ändrats någon annanstans" in page
    assert 'value="Min nya rubrik"' in page  # nothing typed is lost
    assert only_proposal(app).title == "Ändrad i en annan flik"
    # Sent again from the page it is saved.
    version = re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)
    again = client.post(
        path,
        data={
            "csrf_token": csrf_token_from(client, path),
            **proposal_form(title="Min nya rubrik"),
            "version": version,
        },
    )
    assert again.status_code == 302
    assert only_proposal(app).title == "Min nya rubrik"


@pytest.mark.parametrize("closed", ["revoked", "expired"])
def test_a_closed_link_answers_410_and_names_our_office(app, client, closed):
    past = utcnow() - timedelta(days=1)
    with app.app_context():
        fields = {"revoked_at": past} if closed == "revoked" else {"expires_at": past}
        token = make_link(contact_name="Lena Länk", **fields)
    assert client.get(f"/contribute/{token}").status_code == 410
    form = {"csrf_token": csrf_token_from(client, "/subscribe"), **proposal_form()}
    response = client.post(f"/contribute/{token}", data=form)
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "Länken är stängd" in page
    assert "Regional samverkan" in page and "nyhetsbrev@example.se" in page
    assert "Lena Länk" not in page and "kalmar.example.se" not in page


def test_unknown_tokens_answer_404(client):
    assert client.get("/contribute/no-such-token").status_code == 404
    assert client.get("/contribute/proposal/no-such-token").status_code == 404


def test_a_revoked_link_s_proposals_can_be_read_but_not_changed(app, client):
    with app.app_context():
        token = make_link()
    send(client, f"/contribute/{token}")
    path = private_path(app)
    with app.app_context():
        link = db.session.scalars(select(ContributionLink)).one()
        link.revoked_at = utcnow()
        db.session.commit()
    page = client.get(path).get_data(as_text=True)
    assert "Föräldraträffar i Kalmar" in page and "Spara ändringar" not in page
    with app.app_context():
        open_one = make_link("Växjö kommun")
    form = {
        "csrf_token": csrf_token_from(client, f"/contribute/{open_one}"),
        "version": "1",
        **proposal_form(title="Efter stängningen"),
    }
    client.post(path, data=form)
    assert only_proposal(app).title == "Föräldraträffar i Kalmar"


def test_an_expired_link_s_proposal_can_still_be_changed(app, client):
    with app.app_context():
        token = make_link()
    send(client, f"/contribute/{token}")
    path = private_path(app)
    with app.app_context():
        link = db.session.scalars(select(ContributionLink)).one()
        link.expires_at = utcnow()
        db.session.commit()
    assert send(client, path, title="Efter sista dagen").status_code == 302
    assert only_proposal(app).title == "Efter sista dagen"


def test_a_change_never_moves_the_answers_to_another_address(app, client):
    with app.app_context():
        token = make_link()
    send(client, f"/contribute/{token}")
    path = private_path(app)
    response = send(client, path, title="Ny rubrik", proposer_email="x@example.se")
    assert response.status_code == 302
    proposal = only_proposal(app)
    assert proposal.title == "Ny rubrik"
    assert proposal.proposer_email == "karin.berg@kalmar.example.se"


def test_a_filled_honeypot_stores_nothing(app, client):
    with app.app_context():
        token = make_link()
    response = send(client, f"/contribute/{token}", website="https://spam.example")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Proposal.id))) == 0
        assert db.session.scalar(select(func.count(OutboundMessage.id))) == 0


def test_one_link_takes_only_so_many_proposals(make_app):
    app = make_app(RATELIMIT_ENABLED=True, CONTRIBUTION_LIMIT_PER_LINK="2 per day")
    with app.app_context():
        token = make_link()
    url = f"/contribute/{token}"
    codes = []
    for number in range(3):
        client = app.test_client()  # a new address each time
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{number + 1}"
        codes.append(send(client, url).status_code)
    assert codes == [302, 302, 429]
    # Another link is not affected.
    with app.app_context():
        other = make_link("Växjö kommun")
    assert send(app.test_client(), f"/contribute/{other}").status_code == 302


def test_one_address_sends_only_so_many_proposals(make_app):
    app = make_app(RATELIMIT_ENABLED=True, CONTRIBUTION_LIMIT_PER_ADDRESS="2 per hour")
    with app.app_context():
        tokens = [make_link(f"Kommun {n}") for n in range(3)]
    client = app.test_client()
    # Correcting a form error uses up nothing.
    assert send(client, f"/contribute/{tokens[0]}", title="").status_code == 422
    assert send(client, f"/contribute/{tokens[0]}", title="").status_code == 422
    codes = [send(client, f"/contribute/{token}").status_code for token in tokens]
    assert codes == [302, 302, 429]
    with app.app_context():
        assert db.session.scalar(select(func.count(Proposal.id))) == 2


def test_text_is_sanitised_and_only_web_links_are_taken(app, client):
    with app.app_context():
        token = make_link()
    refused = send(
        client,
        f"/contribute/{token}",
        **{"links-0-url": "javascript:alert(1)"},
    )
    assert refused.status_code == 422
    assert "https:// eller http://" in refused.get_data(as_text=True)
    mailto = send(client, f"/contribute/{token}", **{"links-0-url": "mailto:a@b.se"})
    assert mailto.status_code == 422
    sent = send(
        client,
        f"/contribute/{token}",
        body="Hej <script>alert(1)</script> [klicka](javascript:alert(2))",
    )
    assert sent.status_code == 302
    set_status(app, ProposalStatus.ACCEPTED)  # the page shows the rendered text
    page = client.get(private_path(app)).get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert 'href="javascript:' not in page
    with app.app_context():
        assert db.session.scalar(select(func.count(ProposalLink.id))) == 1


def test_a_partner_s_link_typed_from_www_is_taken_with_https(app, client):
    with app.app_context():
        token = make_link()
    response = send(
        client, f"/contribute/{token}", **{"links-0-url": "www.kalmar.example.se/a"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(ProposalLink.url)).all() == [
            "https://www.kalmar.example.se/a"
        ]


def test_limits_are_stated_next_to_the_fields(app, client):
    with app.app_context():
        token = make_link()
    links = {f"links-{n}-text": f"L{n}" for n in range(11)}
    links |= {f"links-{n}-url": f"https://example.se/{n}" for n in range(11)}
    response = send(
        client,
        f"/contribute/{token}",
        title="x" * 201,
        body="y" * 20001,
        note="z" * 2001,
        proposer_email="",
        **links,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for message in (
        "Rubriken får vara högst 200 tecken.",
        "Texten får vara högst 20 000 tecken.",
        "Meddelandet får vara högst 2 000 tecken.",
        "Ett förslag kan ha högst 10 länkar.",
        "Fyll i din e-postadress.",
    ):
        assert message in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Proposal.id))) == 0


def test_a_proposal_after_the_deadline_is_taken_and_marked_late(app, client):
    with app.app_context():
        token = make_link()
        plan_issue(deadline_in_days=-1, publish_in_days=5)
    page = client.get(f"/contribute/{token}").get_data(as_text=True)
    assert "markeras som sent" in page
    assert send(client, f"/contribute/{token}").status_code == 302
    assert only_proposal(app).late


def test_the_form_switches_to_english_and_the_proposal_keeps_it(app, client):
    with app.app_context():
        token = make_link()
    url = f"/contribute/{token}"
    switched = client.post("/language", data={"lang": "en", "next": url})
    assert switched.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert '<html lang="en">' in page and "Send proposal" in page
    send(client, url)
    assert only_proposal(app).language == "en"


def test_only_the_links_organisation_s_saved_contacts_are_offered(app, client):
    with app.app_context():
        token = make_link("Kalmar Kommun")
        ours = Contact(
            name="Olle Ovan",
            title="Rektor",
            organisation="kalmar kommun",
            phone="0480-1",
            email="olle@kalmar.example.se",
        )
        theirs = Contact(name="Vera Växjö", organisation="Växjö kommun")
        db.session.add_all([ours, theirs])
        db.session.commit()
        ours_id = ours.id
    url = f"/contribute/{token}"
    page = client.get(url).get_data(as_text=True)
    assert "Olle Ovan" in page and "Vera Växjö" not in page
    # Without JavaScript: the chosen contact fills the empty contact fields.
    empty = dict.fromkeys(
        [
            "contact_name",
            "contact_title",
            "contact_organisation",
            "contact_phone",
            "contact_email",
        ],
        "",
    )
    response = send(client, url, saved_contact=str(ours_id), **empty)
    assert response.status_code == 302
    proposal = only_proposal(app)
    assert (proposal.contact_name, proposal.contact_title, proposal.contact_email) == (
        "Olle Ovan",
        "Rektor",
        "olle@kalmar.example.se",
    )


def test_a_contact_of_another_organisation_cannot_be_picked(app, client):
    with app.app_context():
        token = make_link()
        theirs = Contact(name="Vera Växjö", organisation="Växjö kommun")
        db.session.add(theirs)
        db.session.commit()
        theirs_id = theirs.id
    response = send(
        client, f"/contribute/{token}", saved_contact=str(theirs_id), contact_name=""
    )
    assert response.status_code == 422
    assert "Vera Växjö" not in response.get_data(as_text=True)


def test_pages_are_private(app, client):
    with app.app_context():
        token = make_link()
    response = client.get(f"/contribute/{token}")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    send(client, f"/contribute/{token}")
    page = client.get(private_path(app))
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    # Nothing of the proposal reaches the public archive.
    assert "Föräldraträffar" not in client.get("/").get_data(as_text=True)


@pytest.mark.browser
def test_the_form_fits_a_phone_and_a_saved_contact_fills_it(
    sqlite_app, live_url, browser
):
    with sqlite_app.app_context():
        token = make_link()
        db.session.add(
            Contact(name="Olle Ovan", organisation="Kalmar kommun", phone="0480-1")
        )
        db.session.commit()
    context = browser.new_context(
        locale="sv-SE", viewport={"width": 375, "height": 800}
    )
    page = context.new_page()
    page.goto(f"{live_url}/contribute/{token}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.get_by_role("button", name="Använd den här kontakten").is_hidden()
    page.get_by_label("Sparad kontakt").select_option(label="Olle Ovan")
    assert page.get_by_label("Kontaktperson", exact=True).input_value() == "Olle Ovan"
    assert page.get_by_label("Telefon").input_value() == "0480-1"
    context.close()


def test_use_this_contact_fills_the_form_and_saves_nothing(app, client):
    with app.app_context():
        token = make_link()
        ours = Contact(name="Olle Ovan", organisation="Kalmar kommun", phone="0480-1")
        db.session.add(ours)
        db.session.commit()
        ours_id = ours.id
    response = send(
        client,
        f"/contribute/{token}",
        saved_contact=str(ours_id),
        use_contact="1",
        contact_name="",
        contact_title="",
        contact_organisation="",
        contact_phone="",
        contact_email="",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'value="Olle Ovan"' in page and 'value="0480-1"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Proposal.id))) == 0


def test_a_closed_link_names_the_office_as_the_settings_page_set_it(app, client):
    past = utcnow() - timedelta(days=1)
    with app.app_context():
        token = make_link(revoked_at=past)
        identity.save(
            {
                "organisation": "Samverkan Kalmar län",
                "reply_to": "redaktionen@kalmar.example.se",
            },
            by="Ada Admin",
        )
        db.session.commit()
    page = client.get(f"/contribute/{token}").get_data(as_text=True)
    assert "Samverkan Kalmar län" in page
    assert "mailto:redaktionen@kalmar.example.se" in page
