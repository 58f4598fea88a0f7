"""Adding and importing confirmed subscribers from the command line."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import ConsentEvent, OutboundMessage, Subscriber
from tests.smtp import SMTPServer


def subscribers(app) -> dict[str, tuple[str, str, list[str]]]:
    with app.app_context():
        return {
            s.email: (s.name, s.status, sorted(t.slug for t in s.themes))
            for s in db.session.scalars(select(Subscriber))
        }


def test_add_a_confirmed_subscriber_with_themes(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "subscribers",
            "add",
            "Kim@Example.SE",
            "--name",
            "Kim",
            "--themes",
            "aldre",
        ]
    )
    assert result.exit_code == 0, result.output
    assert subscribers(app) == {"kim@example.se": ("Kim", "confirmed", ["aldre"])}
    with app.app_context():
        event = db.session.scalar(select(ConsentEvent))
        assert (event.kind, event.how) == ("imported", "import by command line")
        assert event.consent_text.startswith("Added on the command line")
    result = runner.invoke(args=["subscribers", "add", "not-an-address"])
    assert result.exit_code == 1 and "not-an-address" not in subscribers(app)


def test_import_reads_semicolons_a_bom_and_theme_names(app, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_text(
        "\ufeffemail;name;themes\n"
        "anna@example.se;Anna Åberg;Äldre|psykisk-halsa\n"
        "bo@example.se;Bo;\n",
        encoding="utf-8",
    )
    runner = app.test_cli_runner()
    attestation = "Anmälda på konferensen 12 mars 2026, samtycke på blankett."
    result = runner.invoke(
        args=["subscribers", "import", str(path), "--attestation", attestation]
    )
    assert result.exit_code == 0, result.output
    assert "2 added (confirmed), 0 already subscribed." in result.output
    assert subscribers(app) == {
        "anna@example.se": ("Anna Åberg", "confirmed", ["aldre", "psykisk-halsa"]),
        "bo@example.se": (
            "Bo",
            "confirmed",
            ["aldre", "barn-och-unga", "psykisk-halsa"],
        ),
    }
    again = runner.invoke(args=["subscribers", "import", str(path)])
    assert "0 added (pending, confirmation emails queued), 2 already" in again.output
    with app.app_context():
        event = db.session.scalar(select(ConsentEvent).filter_by(kind="imported"))
        assert event.consent_text == attestation
        assert event.how == "import by command line"


def test_import_without_attestation_asks_each_address_to_confirm(app, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_text("email,name,themes\nny@example.se,Ny,aldre\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["subscribers", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert subscribers(app) == {"ny@example.se": ("Ny", "pending", ["aldre"])}
    with app.app_context():
        message = db.session.scalar(select(OutboundMessage))
        assert (message.to_address, message.template) == (
            "ny@example.se",
            "confirm_subscription",
        )


def test_an_import_with_a_bad_row_writes_nothing_and_names_the_line(app, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_text(
        "email,name,themes\nok@example.se,Ok,\nbad-address,Bad,\nx@example.se,X,okänt\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["subscribers", "import", str(path)])
    assert result.exit_code == 1
    assert "line 3: invalid address: bad-address" in result.output
    assert "line 4: unknown theme okänt" in result.output
    assert subscribers(app) == {}


def test_issues_send_then_a_worker_run_delivers(mail_app, smtp_server):
    from tests.factories import make_issue, make_item, make_subscriber

    with mail_app.app_context():
        issue = make_issue()
        make_item(issue, "aldre")
        make_subscriber()
    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["issues", "send", "nyhetsbrev-februari-2026"])
    assert "queued for 1 recipient(s)" in result.output
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert smtp_server.sink.recipients() == ["anna@example.se"]
    status = runner.invoke(args=["issues", "status", "nyhetsbrev-februari-2026"])
    assert "sent 1" in status.output
    again = runner.invoke(args=["issues", "send", "nyhetsbrev-februari-2026"])
    assert again.exit_code == 1 and "cannot be sent" in again.output


def test_control_characters_in_imported_names_are_removed(
    app: Flask, tmp_path: Path
) -> None:
    """ESC, BEL, line separators and bidi overrides never reach a stored name."""
    path = tmp_path / "lista.csv"
    path.write_text(
        "email,name,themes\n"
        "esc@example.se,\x1b[31mAnna\x07 Ek\x1b[0m,\n"
        "bidi@example.se,Bo\u202e\u2066 Berg\u2069\u2028Bcc,\n",
        encoding="utf-8",
    )
    attestation = "Anmälda på konferensen 12 mars 2026, samtycke på blankett."
    result = app.test_cli_runner().invoke(
        args=["subscribers", "import", str(path), "--attestation", attestation]
    )
    assert result.exit_code == 0, result.output
    names = {email: name for email, (name, _, _) in subscribers(app).items()}
    assert names == {
        "esc@example.se": "[31mAnna Ek[0m",
        "bidi@example.se": "Bo Berg Bcc",
    }


def test_control_characters_in_a_name_added_on_the_command_line_are_removed(
    app: Flask,
) -> None:
    """`subscribers add --name` cleans the name the same way as an import."""
    result = app.test_cli_runner().invoke(
        args=[
            "subscribers",
            "add",
            "kim@example.se",
            "--name",
            "Kim\x1b]0;x\x07 \u202eKo",
        ]
    )
    assert result.exit_code == 0, result.output
    assert subscribers(app)["kim@example.se"][0] == "Kim]0;x Ko"


def test_an_imported_address_is_asked_to_confirm_without_a_display_name(
    mail_app: Flask, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    """The name in an import was never confirmed by the person: no To name."""
    path = tmp_path / "lista.csv"
    path.write_text(
        'email,name,themes\nny@example.se,"Eve, Mallory <m@evil.example>",\n',
        encoding="utf-8",
    )
    runner = mail_app.test_cli_runner()
    assert runner.invoke(args=["subscribers", "import", str(path)]).exit_code == 0
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    (message,) = smtp_server.sink.messages()
    assert message["To"] == "ny@example.se"
    assert smtp_server.sink.recipients() == ["ny@example.se"]
