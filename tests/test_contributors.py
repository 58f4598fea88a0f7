"""Contribution links: made, shown again, renewed and revoked by editors and on
the command line; the token is never stored in clear."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import AuditEvent, ContributionLink
from newsletter.models.types import utcnow
from newsletter.services.contributor_links import (
    LinkClosed,
    hash_token,
    open_link,
    token_of,
)
from newsletter.services.plan import local_day
from tests.inbox_factories import make_link, make_proposal

ADDRESS = re.compile(r"http://localhost/contribute/([A-Za-z0-9_-]{20,})")


def link_form(**fields: str) -> dict[str, str]:
    """The new-link form as an editor fills it in."""
    return {
        "organisation": "Region Kalmar län",
        "contact_email": "Maria.Svensson@Regionkalmar.se",
        "contact_name": "Maria Svensson",
        "expires_on": "",
        **fields,
    }


def audit_actions(object_id: int) -> list[str]:
    """The audit trail of one link, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "contribution_link")
            .where(AuditEvent.object_id == object_id)
            .order_by(AuditEvent.id)
        )
    )


def test_a_new_link_shows_its_address_and_stores_the_token_only_hashed_and_sealed(
    app, editor
):
    response = editor.post("/editor/contributors", data=link_form())
    assert response.status_code == 302
    page = editor.get(response.headers["Location"]).get_data(as_text=True)
    token = ADDRESS.search(page).group(1)
    assert "Skicka adressen till Maria Svensson" in page
    assert 'data-copy="link-url"' in page
    with app.app_context():
        link = db.session.scalars(select(ContributionLink)).one()
        assert link.contact_email == "maria.svensson@regionkalmar.se"
        assert link.created_by == "Eva Editor"
        assert link.token_hash == hash_token(token)
        assert token not in link.token_sealed
        assert token_of(link) == token
        assert token not in repr(
            [getattr(link, c.key) for c in ContributionLink.__table__.columns]
        )
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "contribution_link")
        ).all()
        assert [e.action for e in events] == ["contribution_link.created"]
        assert token not in str(events[0].changes)
        assert events[0].actor == "editor@example.se"


def test_the_warning_names_any_organisation_in_correct_swedish(app, editor):
    response = editor.post(
        "/editor/contributors",
        data=link_form(organisation="Kalmar kommun, äldreförvaltningen"),
    )
    page = editor.get(response.headers["Location"]).get_data(as_text=True)
    text = " ".join(page.split())
    assert "i namn av Kalmar kommun, äldreförvaltningen, så" in text
    assert "äldreförvaltningen namn" not in text


def test_the_address_can_be_shown_again_from_the_list(app, editor):
    editor.post("/editor/contributors", data=link_form())
    listing = editor.get("/editor/contributors").get_data(as_text=True)
    assert "Region Kalmar län" in listing and "Öppen" in listing
    with app.app_context():
        link = db.session.scalars(select(ContributionLink)).one()
        token = token_of(link)
    page = editor.get(f"/editor/contributors/{link.id}").get_data(as_text=True)
    assert f"http://localhost/contribute/{token}" in page


def test_the_form_refuses_a_bad_address_a_missing_organisation_and_a_past_day(
    app, editor
):
    yesterday = (local_day(utcnow()) - timedelta(days=1)).isoformat()
    response = editor.post(
        "/editor/contributors",
        data=link_form(organisation="", contact_email="inte en adress"),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Ange partnerorganisationen." in page
    assert "Fyll i en giltig e-postadress." in page
    response = editor.post("/editor/contributors", data=link_form(expires_on=yesterday))
    assert response.status_code == 422
    assert "Välj i dag eller en senare dag." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ContributionLink)).all() == []


def test_a_link_given_until_today_stays_open_until_midnight_in_sweden(app, editor):
    today = local_day(utcnow())
    editor.post("/editor/contributors", data=link_form(expires_on=today.isoformat()))
    with app.app_context():
        link = db.session.scalars(select(ContributionLink)).one()
        assert link.is_open(utcnow())
        assert local_day(link.expires_at) == today + timedelta(days=1)


def test_the_list_counts_each_links_proposals_and_shows_the_latest(app, editor):
    with app.app_context():
        busy = make_link("Kalmar kommun")
        make_link("Borgholms kommun")
        make_proposal(busy, submitted_at=utcnow() - timedelta(days=3))
        make_proposal(busy, title="Senaste förslaget")
    page = editor.get("/editor/contributors").get_data(as_text=True)
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    kalmar = next(r for r in rows if "Kalmar kommun" in r)
    borgholm = next(r for r in rows if "Borgholms kommun" in r)
    assert "<td>2</td>" in kalmar and "<td>0</td>" in borgholm
    assert kalmar.count("–") == 1  # no expiry; but a latest proposal
    assert borgholm.count("–") == 2  # neither


def test_revoking_closes_the_link_and_shows_who_revoked_it(app, editor):
    with app.app_context():
        link = make_link()
        link_id, token = link.id, token_of(link)
    response = editor.post(f"/editor/contributors/{link_id}/revoke")
    assert response.status_code == 302
    page = editor.get(f"/editor/contributors/{link_id}").get_data(as_text=True)
    assert "Återkallad" in page and "Eva Editor" in page
    assert token not in page
    with app.app_context():
        try:
            open_link(token, utcnow())
            raise AssertionError("a revoked link still opens")
        except LinkClosed as closed:
            assert closed.revoked
        assert audit_actions(link_id) == ["contribution_link.revoked"]
    assert editor.post(f"/editor/contributors/{link_id}/revoke").status_code == 409


def test_a_link_that_can_no_longer_be_unsealed_offers_a_new_address(app, editor):
    with app.app_context():
        link = make_link()
        old_hash = link.token_hash
        link.token_sealed = "sealed with a secret key that is gone"
        db.session.commit()
        link_id = link.id
    page = editor.get(f"/editor/contributors/{link_id}").get_data(as_text=True)
    assert "hemliga nyckel har ändrats" in page and not ADDRESS.search(page)
    response = editor.post(f"/editor/contributors/{link_id}/renew")
    assert response.status_code == 302
    page = editor.get(f"/editor/contributors/{link_id}").get_data(as_text=True)
    token = ADDRESS.search(page).group(1)
    with app.app_context():
        link = db.session.get(ContributionLink, link_id)
        assert link.token_hash == hash_token(token) != old_hash
        assert audit_actions(link_id) == ["contribution_link.renewed"]


def test_link_forms_without_the_csrf_token_change_nothing(app, editor):
    with app.app_context():
        link_id = make_link().id
    raw = editor.client
    assert raw.post(f"/editor/contributors/{link_id}/revoke").status_code == 400
    assert raw.post("/editor/contributors", data=link_form()).status_code == 400
    with app.app_context():
        (link,) = db.session.scalars(select(ContributionLink)).all()
        assert link.revoked_at is None


def test_the_command_line_adds_lists_and_revokes_links(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "contributors", "add", "Kalmar kommun", "Kontakt@Kalmar.se",
            "--name", "Kim Kontakt", "--expires", "2999-12-31",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    token = ADDRESS.search(result.output).group(1)
    with app.app_context():
        link = db.session.scalars(select(ContributionLink)).one()
        assert (link.organisation, link.contact_email, link.contact_name) == (
            "Kalmar kommun",
            "kontakt@kalmar.se",
            "Kim Kontakt",
        )
        assert link.token_hash == hash_token(token)
        link_id = link.id
        assert audit_actions(link_id) == ["contribution_link.created"]
    listing = runner.invoke(args=["contributors", "list"])
    assert listing.exit_code == 0
    assert re.search(
        rf"{link_id}\s+open\s+2999-12-31\s+0\s+Kalmar kommun", listing.output
    )
    assert token not in listing.output
    result = runner.invoke(args=["contributors", "revoke", str(link_id)])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["contributors", "list"])
    assert re.search(rf"{link_id}\s+revoked", listing.output)


def test_the_command_line_refuses_bad_input_with_a_clear_message(app):
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["contributors", "add", "Kalmar kommun", "inte-en-adress"])
    assert bad.exit_code != 0 and "not a valid email address" in bad.output
    past = runner.invoke(
        args=["contributors", "add", "Kalmar kommun", "k@kalmar.se", "--expires",
              "2001-01-01"]
    )  # fmt: skip
    assert past.exit_code != 0 and "already over" in past.output
    unknown = runner.invoke(args=["contributors", "revoke", "4711"])
    assert unknown.exit_code != 0 and "no contribution link has the id 4711" in (
        unknown.output
    )
    with app.app_context():
        assert db.session.scalars(select(ContributionLink)).all() == []
    runner.invoke(
        args=["contributors", "add", "Kalmar kommun", "--email", "k@kalmar.se"]
    )
    with app.app_context():
        link_id = db.session.scalars(select(ContributionLink.id)).one()
    runner.invoke(args=["contributors", "revoke", str(link_id)])
    again = runner.invoke(args=["contributors", "revoke", str(link_id)])
    assert again.exit_code != 0 and "already revoked" in again.output
