"""Crafted input gets a clear answer, never a 500; test tools stay out of production."""

from __future__ import annotations

import mailbox
import os
import re
from email.message import EmailMessage

import pytest

from newsletter import create_app
from tests.conftest import base_config, reset_schema
from tests.factories import make_issue, make_item

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/editor/items/{HUGE}",
        f"/editor/issues/{HUGE}",
        f"/editor/subscribers/{HUGE}",
        f"/editor/themes/{HUGE}",
        "/editor/issues/2147483648",  # one past the largest row id
    ],
)
def test_ids_beyond_any_row_are_not_found(admin, path):
    assert admin.get(path).status_code == 404


@pytest.mark.parametrize(
    "target", ["theme:²", "item:²", f"theme:{HUGE}", f"item:{HUGE}"]
)
def test_odd_feed_targets_are_refused(app, editor, target):
    with app.app_context():
        issue_id = make_issue().id
    response = editor.post(
        f"/editor/issues/{issue_id}/import-feed/add",
        data={"target": target, "pick": ["0"], "title-0": "Rubrik"},
    )
    assert response.status_code == 400


def test_a_schedule_in_the_first_hour_of_year_one_is_refused(app, publisher):
    with app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        issue_id = issue.id
    response = publisher.post(
        f"/editor/issues/{issue_id}/schedule", data={"send_at": "0001-01-01T00:30"}
    )
    assert response.status_code == 422
    assert "Välj en tidpunkt i framtiden." in response.get_data(as_text=True)


def test_the_mail_catcher_is_not_served_in_production(tmp_path):
    config = base_config(
        f"sqlite:///{tmp_path / 'p.sqlite3'}",
        TESTING=False,
        ENV="production",
        MAILBOX_PATH=str(tmp_path / "mail"),
    )
    assert create_app(config).test_client().get("/dev/mail/").status_code == 404


def test_the_mail_catcher_lists_messages_whose_zone_is_unknown(tmp_path):
    app = create_app(
        base_config(
            f"sqlite:///{tmp_path / 'd.sqlite3'}", MAILBOX_PATH=str(tmp_path / "mail")
        )
    )
    reset_schema(app)
    box = mailbox.Maildir(str(tmp_path / "mail"), create=True)
    for zone in ("+0000", "-0000"):
        message = EmailMessage()
        message["Subject"] = f"Zon {zone}"
        message["Date"] = f"Wed, 25 Nov 2026 10:00:00 {zone}"
        message.set_content("Hej")
        box.add(message)
    page = app.test_client().get("/dev/mail/").get_data(as_text=True)
    assert "Zon +0000" in page and "Zon -0000" in page


def test_the_mail_catcher_lists_messages_of_one_second_as_they_arrived(tmp_path):
    app = create_app(
        base_config(
            f"sqlite:///{tmp_path / 'd.sqlite3'}", MAILBOX_PATH=str(tmp_path / "mail")
        )
    )
    reset_schema(app)
    box = mailbox.Maildir(str(tmp_path / "mail"), create=True)
    for number in range(1, 6):
        message = EmailMessage()
        message["Subject"] = f"Meddelande {number}"
        message["Date"] = "Wed, 25 Nov 2026 10:00:00 +0000"  # all in one second
        message.set_content("Hej")
        key = box.add(message)
        path = tmp_path / "mail" / "new" / key
        os.utime(path, (1_700_000_000 + number, 1_700_000_000 + number))
    page = app.test_client().get("/dev/mail/").get_data(as_text=True)
    order = [int(n) for n in re.findall(r"Meddelande (\d)", page)]
    assert order == [5, 4, 3, 2, 1]


def test_testing_false_in_the_environment_means_false(monkeypatch, tmp_path):
    from newsletter.config import ConfigError

    monkeypatch.setenv("NEWSLETTER_TESTING", "false")
    monkeypatch.setenv("NEWSLETTER_ENV", "production")
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY", raising=False)
    monkeypatch.setenv(
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'e.sqlite3'}"
    )
    with pytest.raises(ConfigError):
        create_app()
