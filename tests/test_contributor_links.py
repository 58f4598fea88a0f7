"""Contribution links open by their token alone, and private proposal links only
while the proposal keeps the secret they were signed over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletter.errors import NotFound
from newsletter.extensions import db
from newsletter.models import ContributionLink, Proposal
from newsletter.models.types import utcnow
from newsletter.services import audit
from newsletter.services.contributor_links import (
    LinkClosed,
    link_url,
    open_link,
    proposal_by_token,
    proposal_token,
    set_proposal_secret,
    set_token,
    token_of,
)
from tests.factories import make_issue, theme


def _link(**fields) -> tuple[ContributionLink, str]:
    link = ContributionLink(
        organisation="Kalmar kommun", contact_email="kontakt@kalmar.example", **fields
    )
    token = set_token(link)
    db.session.add(link)
    db.session.flush()
    return link, token


def _proposal(link: ContributionLink) -> Proposal:
    proposal = Proposal(
        link_id=link.id,
        issue_id=make_issue().id,
        theme_id=theme("aldre").id,
        title="Träffpunkt för anhöriga",
        proposer_email="anna@kalmar.example",
    )
    set_proposal_secret(proposal)
    db.session.add(proposal)
    db.session.flush()
    return proposal


def test_a_link_opens_by_its_token_and_the_row_never_holds_it(app):
    with app.app_context():
        link, token = _link()
        stored = db.session.execute(
            select(ContributionLink.token_hash, ContributionLink.token_sealed)
        ).one()
        assert token not in "".join(stored)
        assert open_link(token, utcnow()) is link
        assert link_url(link) == f"http://localhost/contribute/{token}"
        with pytest.raises(NotFound):
            open_link(token[:-1] + ("A" if token[-1] != "A" else "B"), utcnow())


def test_a_new_token_ends_the_old_address(app):
    with app.app_context():
        link, old = _link()
        new = set_token(link)
        db.session.flush()
        assert open_link(new, utcnow()) is link
        with pytest.raises(NotFound):
            open_link(old, utcnow())


def test_revoked_and_expired_links_are_closed_but_known(app):
    with app.app_context():
        now = utcnow()
        revoked, revoked_token = _link(revoked_at=now)
        expired, expired_token = _link(expires_at=now - timedelta(minutes=1))
        with pytest.raises(LinkClosed) as closed:
            open_link(revoked_token, now)
        assert closed.value.revoked
        with pytest.raises(LinkClosed) as closed:
            open_link(expired_token, now)
        assert not closed.value.revoked


def test_the_sealed_token_opens_nothing_with_another_secret_key(make_app):
    first = make_app()
    with first.app_context():
        link, _token = _link()
        sealed = link.token_sealed
    other = make_app(SECRET_KEY="another secret key, long enough to be accepted")
    with other.app_context():
        stranger = ContributionLink(token_sealed=sealed)
        assert token_of(stranger) is None and link_url(stranger) is None


def test_a_private_proposal_link_works_until_the_secret_changes(app):
    with app.app_context():
        link, _token = _link()
        proposal = _proposal(link)
        token = proposal_token(proposal)
        assert proposal_by_token(token) is proposal
        set_proposal_secret(proposal)
        db.session.flush()
        with pytest.raises(NotFound):
            proposal_by_token(token)
        with pytest.raises(NotFound):
            proposal_by_token("not-a-token")


def test_audit_entries_name_the_actor_and_never_keep_secrets(app):
    with app.app_context():
        event = audit.record(
            "contribution_link.created",
            "contribution_link",
            1,
            "Kalmar kommun",
            audit.changes(
                {"organisation": ""},
                {"organisation": "Kalmar kommun", "token_hash": "abc", "token": "t"},
            ),
        )
        db.session.flush()
        assert event.actor_kind == "command"  # no request: the command line
        assert event.changes == {"organisation": ["", "Kalmar kommun"]}
