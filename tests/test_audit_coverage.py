"""Every state-changing request and command leaves an audit entry.

The tables below name every POST endpoint and every CLI command: either how to
perform it successfully, or why it is exempt. A new endpoint or command fails
the test until it is added to a table.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import click
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from newsletter.config import settings
from newsletter.extensions import db
from newsletter.mail.verp import verp_address
from newsletter.models import (
    AuditEvent,
    Comment,
    Contact,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    LinkCheck,
    LinkOutcome,
)
from newsletter.models.types import utcnow
from newsletter.services import api_keys, contacts, media, plan
from newsletter.services.contributor_links import proposal_token, token_of
from newsletter.services.issues import ItemImage
from newsletter.services.tokens import make_token
from tests.conftest import EditorClient, csrf_token_from, log_in
from tests.factories import (
    PASSWORD,
    make_editor,
    make_issue,
    make_item,
    make_subscriber,
    theme,
)
from tests.inbox_factories import make_link, make_proposal
from tests.test_api_keys import make_key
from tests.test_media import photo


@dataclass
class World:
    """What the cases act on: an administrator, a visitor and rows of each kind."""

    app: Flask
    admin: EditorClient
    visitor: FlaskClient

    def make(self, build: Callable[[], Any]) -> Any:
        """Run a factory in an application context and return its row's id."""
        with self.app.app_context():
            return build().id

    def issue(self, status: IssueStatus = IssueStatus.DRAFT) -> int:
        """A one-item issue in the given state."""

        def build() -> Issue:
            issue = make_issue(title="Nyhetsbrev mars", slug="")
            make_item(issue, "aldre")
            issue.status = status
            db.session.commit()
            return issue

        return self.make(build)

    def item(self) -> tuple[int, int]:
        """An issue's id and its item's id."""
        with self.app.app_context():
            issue = make_issue(title="Nyhetsbrev april")
            item = make_item(issue, "aldre", links=[("Läs", "https://a.example.se/")])
            return issue.id, item.id

    def token(self, purpose: str, status: str = "confirmed") -> str:
        """A subscriber's signed link of one purpose."""
        with self.app.app_context():
            person = make_subscriber(email=f"{purpose}@example.se", status=status)
            return make_token(purpose, person.id, person.token_version, person.email)

    def post_public(self, url: str, data: dict[str, Any]) -> Any:
        """Post a public form the way a browser would, CSRF token included."""
        token = csrf_token_from(self.visitor, url)
        return self.visitor.post(url, data={"csrf_token": token, **data})


def item_form(theme_id: int, version: str = "", **fields: str) -> dict[str, str]:
    return {
        "theme_id": str(theme_id),
        "title": "Ny notis",
        "body": "Text.",
        "contact_name": "",
        "contact_phone": "",
        "contact_email": "",
        "links-0-text": "",
        "links-0-url": "",
        "version": version,
        **fields,
    }


def _theme_id(w: World, slug: str = "aldre") -> int:
    with w.app.app_context():
        return theme(slug).id


def _version(w: World, model: type, row_id: int) -> str:
    with w.app.app_context():
        return str(db.session.get(model, row_id).version)


def _contact(w: World, name: str = "Lena Berg") -> int:
    def build() -> Contact:
        contact = contacts.create_contact(
            contacts.ContactData(name=name, email=f"{name[:4].lower()}@kalmar.se")
        )
        db.session.commit()
        return contact

    return w.make(build)


def _other_editor(w: World) -> int:
    return w.make(lambda: make_editor(email="eva@example.se", name="Eva"))


def _proposal(w: World) -> int:
    return w.make(make_proposal)


def _accept(w: World) -> Any:
    proposal_id = _proposal(w)
    issue_id = w.issue()
    with w.app.app_context():
        from newsletter.models import Proposal

        p = db.session.get(Proposal, proposal_id)
        data = {
            "issue_id": str(issue_id),
            "theme_id": str(p.theme_id),
            "title": p.title,
            "body": p.body,
            "contact_name": "",
            "contact_phone": "",
            "contact_email": "",
            "links-0-text": "",
            "links-0-url": "",
            "version": str(p.version),
        }
    return w.admin.post(f"/editor/inbox/{proposal_id}/accept", data=data)


def _answer(w: World, how: str) -> Any:
    proposal_id = _proposal(w)
    with w.app.app_context():
        from newsletter.models import Proposal

        version = str(db.session.get(Proposal, proposal_id).version)
    return w.admin.post(
        f"/editor/inbox/{proposal_id}/{how}",
        data={
            f"{how}-message": "Tack, men det passar inte nu.",
            f"{how}-version": version,
        },
    )


def _adopt(w: World) -> Any:
    issue_id, _item = w.item()
    with w.app.app_context():
        db.session.add(
            LinkCheck(
                url="https://a.example.se/",
                checked_at=utcnow(),
                outcome=LinkOutcome.REDIRECTED,
                final_url="https://b.example.se/",
            )
        )
        db.session.commit()
    return w.admin.post(
        f"/editor/issues/{issue_id}/links/adopt", data={"url": "https://a.example.se/"}
    )


def _retry(w: World) -> Any:
    issue_id = w.issue(IssueStatus.SENT)
    with w.app.app_context():
        person = make_subscriber(email="fel@example.se")
        db.session.add(
            Delivery(
                issue_id=issue_id, subscriber_id=person.id, status=DeliveryStatus.FAILED
            )
        )
        db.session.commit()
    return w.admin.post(f"/editor/issues/{issue_id}/retry")


def _import_preview(w: World) -> Any:
    upload = w.admin.post(
        "/editor/subscribers/import",
        data={"file": (io.BytesIO(b"email,name\nny@example.se,Ny\n"), "lista.csv")},
        content_type="multipart/form-data",
    )
    return w.admin.post(
        upload.headers["Location"],
        data={"mode": "attested", "attestation": "Samtycke på mässan 2026, blankett."},
    )


def _proposal_edit(w: World) -> Any:
    with w.app.app_context():
        proposal = make_proposal()
        url = f"/contribute/proposal/{proposal_token(proposal)}"
    from tests.test_contribute import proposal_form

    return w.post_public(url, proposal_form(title="Ändrad rubrik", version="1"))


def _propose(w: World) -> Any:
    with w.app.app_context():
        url = f"/contribute/{token_of(make_link())}"
    from tests.test_contribute import proposal_form

    return w.post_public(url, proposal_form())


# POST endpoint -> how to perform it successfully, or why it is exempt (a string).
Case = Callable[[World], Any] | str


def _comment(w: World) -> int:
    """An open comment on a draft."""
    issue_id = w.issue()

    def build() -> Comment:
        comment = Comment(issue_id=issue_id, author="Pia", body="Kolla datumet.")
        db.session.add(comment)
        db.session.commit()
        return comment

    return w.make(build)


def _restore(w: World) -> Any:
    """Restore an item's first version after a change to it."""
    _issue_id, item_id = w.item()
    w.admin.post(
        f"/editor/items/{item_id}",
        data=item_form(_theme_id(w), _item_version(w, item_id), title="Ändrad"),
    )
    return w.admin.post(
        f"/editor/items/{item_id}/revisions/1/restore",
        data={"version": _item_version(w, item_id)},
    )


def _correct(w: World) -> Any:
    """Correct the phone number of a sent issue's item."""
    issue_id, item_id = w.item()
    with w.app.app_context():
        db.session.get(Issue, issue_id).status = IssueStatus.SENT
        db.session.commit()
    return w.admin.post(
        f"/editor/items/{item_id}/correct",
        data={
            **item_form(_theme_id(w), _item_version(w, item_id)),
            "contact_phone": "0480-100 00",
            "note": "Telefonnumret var fel.",
        },
    )


def _erase_image(w: World) -> Any:
    """Erase the picture an item showed before it was removed."""
    with w.app.app_context():
        stored = media.store_image(photo())
        item = make_item(
            make_issue(title="Nyhetsbrev maj"),
            "aldre",
            image=ItemImage(stored.name, "Ett foto.", False, 1200, 750),
        )
        item_id = item.id
    w.admin.post(
        f"/editor/items/{item_id}",
        data={
            **item_form(_theme_id(w), _item_version(w, item_id)),
            "remove_image": "y",
        },
    )
    return w.admin.post(
        f"/editor/items/{item_id}/images/erase", data={"image": stored.name}
    )


ROUTES: dict[str, Case] = {
    # Editor accounts and themes (administrators).
    "editor.admin.editor_list": lambda w: w.admin.post(
        "/editor/editors",
        data={
            "email": "ny@example.se",
            "name": "Ny",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    ),
    "editor.admin.editor_account": lambda w: w.admin.post(
        f"/editor/editors/{_other_editor(w)}", data={"role": "reviewer", "active": ""}
    ),
    "editor.admin.editor_password": lambda w: w.admin.post(
        f"/editor/editors/{_other_editor(w)}/password",
        data={"pw-password": "ett annat lösenord", "pw-confirm": "ett annat lösenord"},
    ),
    "editor.admin.theme_list": lambda w: w.admin.post(
        "/editor/themes", data={"name": "Kultur", "description": ""}
    ),
    "editor.admin.theme": lambda w: w.admin.post(
        f"/editor/themes/{_theme_id(w)}", data={"name": "Äldre", "description": "Ny"}
    ),
    "editor.admin.move_theme": lambda w: w.admin.post(
        f"/editor/themes/{_theme_id(w)}/move", data={"step": "-1"}
    ),
    "editor.admin.toggle_theme": lambda w: w.admin.post(
        f"/editor/themes/{_theme_id(w)}/active"
    ),
    # Logging in and out, one's own password.
    "editor.auth.login": lambda w: log_in(w.app.test_client(), "admin@example.se"),
    "editor.auth.logout": lambda w: w.admin.post("/editor/logout"),
    "editor.auth.account": lambda w: w.admin.post(
        "/editor/account",
        data={
            "current_password": PASSWORD,
            "password": "ett annat lösenord",
            "confirm": "ett annat lösenord",
        },
    ),
    # Contacts.
    "editor.contacts.new_contact": lambda w: w.admin.post(
        "/editor/contacts/new", data={"name": "Lena Berg", "email": "lena@kalmar.se"}
    ),
    "editor.contacts.contact": lambda w: w.admin.post(
        f"/editor/contacts/{_contact(w)}",
        data={"name": "Lena Berg", "email": "lena.berg@kalmar.se"},
    ),
    "editor.contacts.delete_contact": lambda w: w.admin.post(
        f"/editor/contacts/{_contact(w)}/delete"
    ),
    "editor.contacts.merge": lambda w: w.admin.post(
        "/editor/contacts/merge",
        data={"keep": str(_contact(w)), "drop": str(_contact(w, "Lisa Ek"))},
    ),
    # Contribution links and the inbox.
    "editor.contributors.link_list": lambda w: w.admin.post(
        "/editor/contributors",
        data={
            "organisation": "Kalmar kommun",
            "contact_email": "k@kalmar.se",
            "contact_name": "",
            "expires_on": "",
        },
    ),
    "editor.contributors.renew": lambda w: w.admin.post(
        f"/editor/contributors/{w.make(make_link)}/renew"
    ),
    "editor.contributors.revoke": lambda w: w.admin.post(
        f"/editor/contributors/{w.make(make_link)}/revoke"
    ),
    "editor.inbox.accept": _accept,
    "editor.inbox.decline": lambda w: _answer(w, "decline"),
    "editor.inbox.return_proposal": lambda w: _answer(w, "return"),
    # Issues and items.
    "editor.issues.new_issue": lambda w: w.admin.post(
        "/editor/issues/new", data={"title": "Nyhetsbrev maj", "slug": ""}
    ),
    "editor.issues.edit": lambda w: (
        lambda issue_id: w.admin.post(
            f"/editor/issues/{issue_id}",
            data={
                "title": "Nytt namn",
                "slug": "nytt-namn",
                "version": _version(w, Issue, issue_id),
            },
        )
    )(w.issue()),
    "editor.issues.delete_issue": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/delete"
    ),
    "editor.issues.duplicate_issue": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/duplicate", data={"copy-title": "Kopia"}
    ),
    "editor.issues.create_plan": lambda w: w.admin.post(
        "/editor/issues/plan",
        data={
            "plan-year": "2031",
            "plan-pattern": "Nyhetsbrev {månad} {år}",
            "plan-months": ["3"],
            "plan-publish_day": "15",
            "plan-deadline_days": "21",
        },
    ),
    "editor.issues.new_item": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/items/new", data=item_form(_theme_id(w))
    ),
    "editor.issues.item": lambda w: (
        lambda ids: w.admin.post(
            f"/editor/items/{ids[1]}",
            data=item_form(_theme_id(w), _item_version(w, ids[1])),
        )
    )(w.item()),
    "editor.issues.delete_item": lambda w: w.admin.post(
        f"/editor/items/{w.item()[1]}/delete"
    ),
    "editor.issues.move_item": lambda w: w.admin.post(
        f"/editor/items/{w.item()[1]}/move", data={"step": "1"}
    ),
    "editor.issues.section_contact": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/sections/{_theme_id(w)}/contact",
        data={"contact_name": "Lena", "contact_email": "lena@kalmar.se"},
    ),
    "editor.links.adopt_final_address": _adopt,
    "editor.feeds.import_feed": "reads a feed and shows a preview; nothing is kept",
    "editor.writing.text_preview": "renders the text being written; nothing is kept",
    "editor.feeds.add_feed_entries": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/import-feed/add",
        data={"target": f"theme:{_theme_id(w)}", "pick": ["0"], "title-0": "Rubrik"},
    ),
    # Sending.
    "editor.sending.send_now": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/send"
    ),
    "editor.sending.schedule": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/schedule", data={"send_at": "2099-03-03T09:00"}
    ),
    "editor.sending.unschedule_sending": lambda w: w.admin.post(
        f"/editor/issues/{w.issue(IssueStatus.SCHEDULED)}/unschedule"
    ),
    "editor.sending.pause_sending": lambda w: w.admin.post(
        f"/editor/issues/{w.issue(IssueStatus.SENDING)}/pause"
    ),
    "editor.sending.resume_sending": lambda w: w.admin.post(
        f"/editor/issues/{w.issue(IssueStatus.PAUSED)}/resume"
    ),
    "editor.sending.cancel_sending": lambda w: w.admin.post(
        f"/editor/issues/{w.issue(IssueStatus.SENDING)}/cancel"
    ),
    "editor.sending.retry_sending": _retry,
    "editor.sending.test_send": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/test", data={"addresses": "test@example.se"}
    ),
    # Subscribers, by an editor.
    "editor.subscribers.unsubscribe_subscriber": lambda w: w.admin.post(
        f"/editor/subscribers/{w.make(make_subscriber)}/unsubscribe"
    ),
    "editor.subscribers.erase_subscriber": lambda w: w.admin.post(
        f"/editor/subscribers/{w.make(make_subscriber)}/erase"
    ),
    "editor.subscribers.import_upload": lambda w: w.admin.post(
        "/editor/subscribers/import",
        data={"file": (io.BytesIO(b"email\nny@example.se\n"), "lista.csv")},
        content_type="multipart/form-data",
    ),
    "editor.subscribers.import_preview": _import_preview,
    # The public side.
    "i18n.set_language": "sets the visitor's language in a cookie; nothing is stored",
    "subscribe.subscribe": lambda w: w.post_public(
        "/subscribe", {"email": "ny@example.se", "name": "Ny", "themes": ["1"]}
    ),
    "subscribe.resend": lambda w: (
        w.post_public(
            "/subscribe", {"email": "ny@example.se", "name": "Ny", "themes": ["1"]}
        )
        and w.visitor.post(
            "/confirm/resend",
            data={
                "csrf_token": csrf_token_from(w.visitor, "/subscribe"),
                "email": "ny@example.se",
            },
        )
    ),
    "subscribe.confirm": lambda w: w.post_public(
        f"/confirm/{w.token('confirm', 'pending')}", {}
    ),
    "subscribe.preferences": lambda w: w.post_public(
        f"/preferences/{w.token('preferences')}",
        {"name": "Anna", "themes": ["1"], "language": "sv"},
    ),
    "subscribe.unsubscribe": lambda w: w.visitor.post(
        f"/unsubscribe/{w.token('unsubscribe')}", data={"List-Unsubscribe": "One-Click"}
    ),
    "subscribe.unsubscribe_from_preferences": lambda w: (
        lambda token: w.visitor.post(
            f"/preferences/{token}/unsubscribe",
            data={"csrf_token": csrf_token_from(w.visitor, f"/preferences/{token}")},
        )
    )(w.token("preferences")),
    "subscribe.erase": lambda w: (
        lambda token: w.visitor.post(
            f"/preferences/{token}/erase",
            data={
                "csrf_token": csrf_token_from(w.visitor, f"/preferences/{token}"),
                "sure": "y",
            },
        )
    )(w.token("preferences")),
    "contribute.propose": _propose,
    "contribute.proposal": _proposal_edit,
    # Review, approval, comments and the organisation's settings.
    "editor.review.request": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/review", data={"review-message": "Titta gärna"}
    ),
    "editor.review.comment": lambda w: w.admin.post(
        f"/editor/issues/{w.issue()}/comments",
        data={"comment-item_id": "0", "comment-body": "Bra!"},
    ),
    "editor.review.resolve_comment": lambda w: w.admin.post(
        f"/editor/comments/{_comment(w)}/resolve"
    ),
    "editor.review.approve": lambda w: (
        lambda issue_id: w.admin.post(
            f"/editor/issues/{issue_id}/approve",
            data={"approve-version": _version(w, Issue, issue_id)},
        )
    )(w.issue()),
    "editor.settings.index": lambda w: w.admin.post(
        "/editor/settings", data={"require_approval": "on"}
    ),
    # API keys (administrators) and the API's sign-up.
    "editor.api_keys.key_list": lambda w: make_key(w.admin, "Regionens webb"),
    "editor.api_keys.revoke": lambda w: w.admin.post(
        f"/editor/api-keys/{_api_key(w)}/revoke"
    ),
    "api.create_subscription": lambda w: w.visitor.post(
        "/api/v1/subscriptions", json={"email": "api@example.se"}
    ),
    # Item history and corrections of sent issues.
    "editor.history.restore": _restore,
    "editor.history.correct": _correct,
    "editor.history.erase_image": _erase_image,
}


def _item_version(w: World, item_id: int) -> str:
    from newsletter.models import Item

    return _version(w, Item, item_id)


def _bounce(w: World) -> list[str]:
    """Arguments and input for `bounces process`: a hard bounce of a delivery."""
    issue_id = w.issue(IssueStatus.SENDING)
    with w.app.app_context():
        person = make_subscriber(email="studs@example.se")
        delivery = Delivery(
            issue_id=issue_id, subscriber_id=person.id, status=DeliveryStatus.SENT
        )
        db.session.add(delivery)
        db.session.commit()
        config = settings()
        verp = verp_address(
            config.return_path or config.mail_from, config.secret_key, "d", delivery.id
        )
    from tests.test_bounces import returned

    w.bounce_input = returned("postfix-hard.eml", verp, "studs@example.se")
    return ["bounces", "process"]


def _planned_for_reminder(w: World) -> list[str]:
    def build() -> Issue:
        issue = make_issue(title="Nyhetsbrev juni")
        issue.contribution_deadline = plan.local_day(utcnow()) + timedelta(days=2)
        issue.publish_on = issue.contribution_deadline + timedelta(days=21)
        db.session.commit()
        return issue

    w.make(build)
    w.make(make_link)
    return ["plan", "remind"]


def _send_by_slug(w: World) -> list[str]:
    issue_id = w.issue()
    with w.app.app_context():
        slug = db.session.get(Issue, issue_id).slug
    return ["issues", "send", slug]


def _build_pdf(w: World) -> list[str]:
    issue_id = w.issue(IssueStatus.SENT)
    with w.app.app_context():
        issue = db.session.get(Issue, issue_id)
        issue.published_at = utcnow()
        db.session.commit()
        return ["pdf", "build", issue.slug]


def _orphan_media(w: World) -> list[str]:
    """A PDF file no edition names any more, older than the purge's grace period."""
    with w.app.app_context():
        name = media.store_file(f"%PDF-1.7 {w.tmp}".encode(), "pdf")
        os.utime(media.media_path() / name, (0, 0))
    return ["media", "purge"]


def _import_file(w: World) -> list[str]:
    path = w.tmp / "lista.csv"
    path.write_text("email,name\nfil@example.se,Fil\n", encoding="utf-8")
    return ["subscribers", "import", str(path)]


def _api_key(w: World) -> int:
    with w.app.app_context():
        made = api_keys.create_key("Intranätet", by="test")
        db.session.commit()
        return made.row.id


# CLI command path -> arguments of a successful run (or a function of the world
# returning them), or why it is exempt (a string starting with "exempt:").
COMMANDS: dict[str, Any] = {
    "create-editor": [
        "create-editor",
        "--email",
        "cli@example.se",
        "--name",
        "Cli",
        "--password",
        PASSWORD,
    ],
    "demo": ["demo"],
    "editors unlock": "tested in test_auth: it needs the counts in the database, "
    "and records 'editor.unlocked' there",
    "seed-themes": "exempt: adds the default themes only to an empty list (the "
    "test database has them); it records each theme it adds",
    "issues list": "exempt: read-only",
    "issues status": "exempt: read-only",
    "issues send": _send_by_slug,
    "subscribers add": ["subscribers", "add", "cli@example.se", "--name", "Cli"],
    "subscribers import": _import_file,
    "worker": "exempt: runs until stopped; what it changes is recorded by the "
    "services it calls (sending, bounces), tested with them",
    "dev": "exempt: starts development servers",
    "bounces process": _bounce,
    "links check": "exempt: needs web servers to check; records only when it "
    "changes a link (tested in test_links)",
    "contributors add": ["contributors", "add", "Kalmar kommun", "k@kalmar.se"],
    "contributors list": "exempt: read-only",
    "contributors revoke": lambda w: ["contributors", "revoke", str(w.make(make_link))],
    "plan remind": _planned_for_reminder,
    "plan create": ["plan", "create", "2031"],
    "pdf build": _build_pdf,
    "api-keys create": ["api-keys", "create", "Regionens webb"],
    "api-keys list": "exempt: read-only",
    "api-keys revoke": lambda w: ["api-keys", "revoke", str(_api_key(w))],
    "search rebuild": ["search", "rebuild"],
    # --dry-run: read-only, records nothing (tested in test_media_purge).
    "media purge": _orphan_media,
}
DATABASE_COMMANDS = "db"  # Flask-Migrate's schema commands: no application state


def post_endpoints(app: Flask) -> set[str]:
    return {
        rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods
    }


def command_paths(group: click.Group, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            if path != DATABASE_COMMANDS:
                found |= command_paths(command, f"{path} ")
        else:
            found.add(path)
    return found


def entries(app: Flask, by_requests: bool = False) -> int:
    """Count the entries; only those of web requests when asked (a case's setup
    runs factories, whose entries name the command line)."""
    query = select(func.count(AuditEvent.id))
    if by_requests:
        query = query.where(AuditEvent.actor_kind != "command")
    with app.app_context():
        return db.session.scalar(query) or 0


def test_every_post_endpoint_and_command_is_in_the_table(app):
    missing = sorted(post_endpoints(app) - set(ROUTES))
    assert not missing, f"add these POST endpoints to ROUTES: {missing}"
    missing = sorted(command_paths(app.cli) - set(COMMANDS))
    assert not missing, f"add these commands to COMMANDS: {missing}"
    assert not set(ROUTES) - post_endpoints(app), "ROUTES names a gone endpoint"


@pytest.mark.parametrize(
    "endpoint", sorted(e for e, case in ROUTES.items() if not isinstance(case, str))
)
def test_each_post_leaves_an_audit_entry(app, admin, endpoint):
    world = World(app, admin, app.test_client())
    before = entries(app, by_requests=True)
    response = ROUTES[endpoint](world)
    status = getattr(response, "status_code", 302)
    assert status < 400, (status, response.get_data(as_text=True)[:2000])
    assert entries(app, by_requests=True) > before, (
        f"{endpoint} succeeded but wrote no audit entry"
    )


@pytest.mark.parametrize(
    "path", sorted(p for p, how in COMMANDS.items() if not isinstance(how, str))
)
def test_each_command_leaves_an_audit_entry(app, admin, tmp_path, path):
    world = World(app, admin, app.test_client())
    world.tmp = tmp_path
    world.bounce_input = None
    how = COMMANDS[path]
    args = how(world) if callable(how) else how
    before = entries(app)
    result = app.test_cli_runner().invoke(args=args, input=world.bounce_input)
    assert result.exit_code == 0, result.output
    assert entries(app) > before, f"`flask {path}` succeeded but wrote no entry"
