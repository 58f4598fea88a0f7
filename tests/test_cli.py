"""The command line: editor accounts, demo content, listing issues."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import AuditEvent, Editor, Issue, Item
from newsletter.models.types import utcnow
from newsletter.services.plan import local_day
from tests.conftest import log_in


def test_create_editor_then_log_in(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-editor", "--email", "Kim@Example.se", "--name", "Kim",
            "--password", "tio tecken minst", "--admin",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created admin kim@example.se." in result.output
    log_in(app.test_client(), "kim@example.se", "tio tecken minst")


def test_create_editor_refuses_short_passwords_and_duplicates(app):
    runner = app.test_cli_runner()
    args = ["create-editor", "--email", "kim@example.se", "--name", "Kim"]
    result = runner.invoke(args=[*args, "--password", "kort"])
    assert result.exit_code == 2 and "at least 10 characters" in result.output
    runner.invoke(args=[*args, "--password", "tio tecken minst"])
    result = runner.invoke(args=[*args, "--password", "tio tecken minst"])
    assert result.exit_code == 1 and "already exists" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Editor.id))) == 1


def test_demo_loads_content_once_and_prints_a_working_login(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo"])
    assert "0 issue(s) added" in second.output
    password = re.search(r"with password (\S+)", second.output).group(1)
    log_in(app.test_client(), "redaktor@example.se", password)
    with app.app_context():
        # The two demo issues, and drafts for the rest of this year's plan.
        year = local_day(utcnow()).year
        planned = db.session.scalars(
            select(Issue.publish_on).where(
                Issue.publish_on.between(date(year, 1, 1), date(year, 12, 31))
            )
        ).all()
        assert sorted(day.month for day in planned) == [3, 6, 9, 12]
        assert db.session.scalar(select(func.count(Issue.id))) == (
            4 if year == 2026 else 6
        )
        titles = db.session.scalars(select(Item.title)).all()
    assert "Ny utbildningswebb om hedersrelaterat våld och förtryck" in titles
    listing = runner.invoke(args=["issues", "list"]).output
    assert "nyhetsbrev-september-2026" in listing and "Skickat" in listing


CONTENT = ("issue", "item", "setting", "import", "contribution_link")


def test_the_demo_s_versions_are_saved_by_its_named_editor_not_the_os_user(
    app, monkeypatch
):
    monkeypatch.setattr("getpass.getuser", lambda: "root")
    output = app.test_cli_runner().invoke(args=["demo"]).output
    password = re.search(r"redaktor@example\.se \S+ with password (\S+)", output)[1]
    editor = log_in(app.test_client(), "redaktor@example.se", password)
    with app.app_context():
        issue_id = db.session.scalar(
            select(Issue.id).where(Issue.slug == "nyhetsbrev-december-2026")
        )
        item_id = db.session.scalar(select(Item.id).where(Item.issue_id == issue_id))
    for page in (f"/editor/issues/{issue_id}", f"/editor/items/{item_id}"):
        html = editor.get(page).get_data(as_text=True)
        versions = html[html.index('id="revisions-heading"') :]
        versions = versions[: versions.index("</table>")]
        assert "<td>Demoredaktör</td>" in versions, page
        assert "root" not in versions, page
    with app.app_context():
        content = db.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.object_type.in_(CONTENT))
        ).all()
    assert content and set(content) == {"Demoredaktör"}


def test_the_demo_archive_shows_the_sent_issue(app, client):
    app.test_cli_runner().invoke(args=["demo"])
    index = client.get("/").get_data(as_text=True)
    assert "Nyhetsbrev september 2026" in index
    assert "Nyhetsbrev december 2026" not in index  # drafts stay private
    page = client.get("/archive/nyhetsbrev-september-2026")
    assert page.status_code == 200
    assert client.get("/archive/nyhetsbrev-december-2026").status_code == 404
