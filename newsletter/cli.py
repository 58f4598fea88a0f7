"""Command-line interface: flask --app wsgi <command>."""

from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from newsletter.extensions import db
from newsletter.services import editors, issues, themes
from newsletter.web import status_label

issues_cli = AppGroup("issues", help="List and manage issues.")


@click.command("create-editor")
@with_appcontext
@click.option("--email", prompt=True, help="The editor's login address.")
@click.option("--name", prompt=True, help="The editor's display name.")
@click.option("--admin", is_flag=True, help="May manage themes and editor accounts.")
@click.password_option(
    help="At least 10 characters; asked for twice when left out.",
)
def create_editor_command(email: str, name: str, admin: bool, password: str) -> None:
    """Create an editor account."""
    if len(password) < editors.MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"use at least {editors.MIN_PASSWORD_LENGTH} characters",
            param_hint="--password",
        )
    try:
        editor = editors.create_editor(email, name, password, is_admin=admin)
    except editors.EditorExists:
        raise click.ClickException(f"an editor with {email!r} already exists") from None
    db.session.commit()
    role = "admin" if editor.is_admin else "editor"
    click.echo(f"Created {role} {editor.email}.")


@click.command("demo")
@with_appcontext
@click.option(
    "--editor-email", default="redaktor@example.se", show_default=True,
    help="Address of the demo admin account.",
)  # fmt: skip
def demo_command(editor_email: str) -> None:
    """Load demo content and (re)set a demo admin account, printing its password."""
    from newsletter.demo import load_demo_content

    themes.ensure_default_themes()
    created = load_demo_content()
    password = secrets.token_urlsafe(12)
    existing = next(
        (e for e in editors.list_editors() if e.email == editor_email), None
    )
    if existing is None:
        editors.create_editor(editor_email, "Demoredaktör", password, is_admin=True)
    else:
        editors.set_password(existing.id, password)
    db.session.commit()
    click.echo(f"Demo content: {created} issue(s) added.")
    click.echo(f"Log in at /editor/login as {editor_email} with password {password}")


@click.command("seed-themes")
@with_appcontext
def seed_themes_command() -> None:
    """Create the default themes when there are none."""
    themes.ensure_default_themes()
    db.session.commit()
    click.echo(", ".join(t.name for t in themes.list_themes()))


@issues_cli.command("list")
def list_issues_command() -> None:
    """List issues, newest first."""
    rows = issues.list_issues()
    if not rows:
        click.echo("No issues yet.")
    for issue in rows:
        click.echo(f"{issue.slug:40} {status_label(issue.status):12} {issue.title}")


@click.command("dev")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def dev_command(host: str, port: int) -> None:
    """Run the site for local use (not for production: use gunicorn)."""
    from flask import current_app
    from werkzeug.serving import run_simple

    click.echo(f"Serving on http://{host}:{port}/ (editor: /editor/)")
    run_simple(host, port, current_app._get_current_object(), threaded=True)


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(create_editor_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(seed_themes_command)
    app.cli.add_command(issues_cli)
    app.cli.add_command(dev_command)
