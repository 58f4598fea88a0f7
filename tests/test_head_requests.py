"""Link scanners send HEAD: no public page may act on one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import ContributionLink, Subscriber
from newsletter.models.types import utcnow
from newsletter.services import contributions, media
from newsletter.services.contributions import ProposalData
from newsletter.services.contributor_links import proposal_token, set_token
from newsletter.services.tokens import make_token
from tests.conftest import csrf_token_from
from tests.factories import make_issue, make_item, make_subscriber
from tests.test_media import photo


def database_rows(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with app.app_context():
        rows = {
            table.name: sorted(
                db.session.execute(select(table)).all(), key=lambda row: repr(row)
            )
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
        return rows


def route_values(app: Flask) -> dict[tuple[str, str], str]:
    """Real values for each public route's arguments, tokens included."""
    with app.app_context():
        issue = make_issue("Nyhetsbrev mars", slug="nyhetsbrev-mars")
        make_item(issue, "aldre")
        issue.status = "sent"
        issue.published_at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        db.session.commit()
        pending = make_subscriber("pending@example.se", status="pending")
        person = make_subscriber("confirmed@example.se")

        def token(purpose: str, subscriber: Any) -> str:
            """Sign a current link of the subscriber's for one purpose."""
            return make_token(
                purpose, subscriber.id, subscriber.token_version, subscriber.email
            )

        preferences = token("preferences", person)
        link = ContributionLink(organisation="Kalmar kommun", contact_email="k@e.se")
        contribute = set_token(link)
        db.session.add(link)
        data = ProposalData(
            title="Förslag", body="Text", theme_id=1, proposer_email="k@e.se"
        )
        proposal = contributions.submit(link, data, "sv", utcnow())
        db.session.commit()
        image = media.store_image(photo())
        return {
            ("archive.media_file", "name"): image.variant(600),
            ("static", "filename"): "style.css",
            ("archive.issue", "slug"): "nyhetsbrev-mars",
            ("archive.issue_pdf", "slug"): "nyhetsbrev-mars",
            ("archive.theme", "slug"): "aldre",
            ("archive.theme_rss", "slug"): "aldre",
            ("api.issue", "slug"): "nyhetsbrev-mars",
            ("archive.theme_json", "slug"): "aldre",
            ("subscribe.confirm", "token"): token("confirm", pending),
            ("subscribe.unsubscribe", "token"): token("unsubscribe", person),
            ("subscribe.preferences", "token"): preferences,
            ("subscribe.unsubscribe_from_preferences", "token"): preferences,
            ("subscribe.download", "token"): preferences,
            ("subscribe.erase", "token"): preferences,
            ("contribute.propose", "token"): contribute,
            ("contribute.proposal", "token"): proposal_token(proposal),
        }


def test_a_head_request_on_any_public_route_changes_nothing(app: Flask) -> None:
    """Walk the URL map with HEAD, real tokens in place: no row may change."""
    values = route_values(app)
    public = [
        rule
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("editor.")
    ]
    urls = []
    with app.test_request_context():
        for rule in public:
            missing = [
                arg for arg in rule.arguments if (rule.endpoint, arg) not in values
            ]
            assert not missing, f"no test value for {rule.endpoint} {missing}"
            arguments = {arg: values[(rule.endpoint, arg)] for arg in rule.arguments}
            urls.append(rule.build(arguments, append_unknown=False)[1])
    assert len(urls) > 10
    before = database_rows(app)
    client = app.test_client(use_cookies=False)
    for url in urls:
        with client.head(url) as response:
            # A PDF edition no worker has built yet is "try again shortly".
            unbuilt = url.endswith(".pdf") and response.status_code == 503
            assert response.status_code < 500 or unbuilt, url
    assert database_rows(app) == before


def test_a_head_with_a_full_sign_up_form_answers_like_get_and_adds_nobody(
    app: Flask,
) -> None:
    """A HEAD carrying form data and a valid token is still only the page."""
    client = app.test_client()
    token = csrf_token_from(client, "/subscribe")
    form = {"csrf_token": token, "email": "head@example.se", "themes": ["1"]}
    with client.head("/subscribe", data=form) as response:
        assert response.status_code == 200
    with app.app_context():
        assert db.session.scalars(select(Subscriber)).all() == []
