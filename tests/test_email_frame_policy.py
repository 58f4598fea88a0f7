"""The Content-Security-Policy of the frames that show an email (the editor's preview
and the local mail catcher): this site's pictures load even over plain http; scripts,
forms and other sites' http pictures do not."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest

from newsletter import create_app
from newsletter.config import update_settings
from tests.conftest import base_config, reset_schema
from tests.factories import make_issue


def directives(policy: str) -> dict[str, set[str]]:
    """A policy as its directives, each with its set of sources."""
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: set(sources) for name, *sources in parts}


def preview_policy(app, editor) -> dict[str, set[str]]:
    """The policy the editor's email preview frame is served with."""
    with app.app_context():
        issue_id = make_issue().id
    response = editor.get(f"/editor/issues/{issue_id}/email.html")
    return directives(response.headers["Content-Security-Policy"])


def test_the_email_preview_frame_loads_this_sites_pictures_over_http(app, editor):
    update_settings(app, BASE_URL="http://127.0.0.1:5000")
    policy = preview_policy(app, editor)
    assert policy["img-src"] == {"'self'", "http://127.0.0.1:5000", "https:", "data:"}
    assert policy["default-src"] == {"'none'"}
    assert policy["form-action"] == {"'none'"} and policy["base-uri"] == {"'none'"}
    assert "script-src" not in policy


@pytest.mark.parametrize(
    "base_url", ["http://a.example; script-src *", "ftp://files.example"]
)
def test_a_base_url_that_is_no_web_origin_adds_nothing_to_the_policy(
    app, editor, base_url
):
    update_settings(app, BASE_URL=base_url)
    policy = preview_policy(app, editor)
    assert policy["img-src"] == {"'self'", "https:", "data:"}
    assert "script-src" not in policy


def test_the_mail_catcher_frame_loads_this_sites_pictures_over_http(tmp_path):
    app = create_app(
        base_config(
            f"sqlite:///{tmp_path / 'd.sqlite3'}",
            MAILBOX_PATH=str(tmp_path / "mail"),
            BASE_URL="http://localhost:5000/",
        )
    )
    reset_schema(app)
    message = EmailMessage()
    message["Subject"] = "Med bild"
    message.set_content("Hej")
    message.add_alternative('<img src="http://localhost:5000/media/a.jpg" alt="">')
    key = mailbox.Maildir(str(tmp_path / "mail"), create=True).add(message)
    response = app.test_client().get(f"/dev/mail/{key}/html")
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["img-src"] == {"'self'", "http://localhost:5000", "https:", "data:"}
    assert policy["default-src"] == {"'none'"}
    assert "script-src" not in policy
