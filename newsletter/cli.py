"""Command-line interface: flask --app wsgi <command>."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import BinaryIO

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from flask_babel import force_locale
from limits import parse_many
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from newsletter.config import ConfigError, settings, settings_of, update_settings
from newsletter.errors import InvalidState, NotFound
from newsletter.extensions import db
from newsletter.labels import status_label
from newsletter.link_checker import links_cli
from newsletter.media_purge import media_cli
from newsletter.models import Editor, Issue, Role, Subscriber, SubscriberStatus, Theme
from newsletter.models.types import utcnow
from newsletter.pdf_editions import pdf_cli
from newsletter.planning import plan_cli
from newsletter.rate_limits import lift_login_lockout
from newsletter.services import (
    api_keys,
    audit,
    bounces,
    contributors,
    editors,
    issues,
    review,
    search,
    sending,
    subscriber_import,
    subscribers,
    themes,
)
from newsletter.services.contributor_links import link_url

issues_cli = AppGroup("issues", help="List, send and follow issues.")
subscribers_cli = AppGroup("subscribers", help="Add and import subscribers.")
bounces_cli = AppGroup("bounces", help="Record bounces and complaints.")
contributors_cli = AppGroup(
    "contributors", help="Make, list and revoke partners' contribution links."
)
search_cli = AppGroup("search", help="The search index of the published archive.")
editors_cli = AppGroup("editors", help="Editor accounts.")
# sysexits.h: the mail server keeps the message and tries the command again later.
EX_TEMPFAIL = 75


@click.command("create-editor")
@with_appcontext
@click.option("--email", prompt=True, help="The editor's login address.")
@click.option("--name", prompt=True, help="The editor's display name.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.EDITOR.value,
    show_default=True,
    help="admin: accounts, themes, settings; publisher: approves and sends; "
    "editor: composes; reviewer: reads and comments.",
)
@click.option("--admin", is_flag=True, help="The same as --role admin.")
@click.password_option(
    help="At least 10 characters; asked for twice when left out.",
)
def create_editor_command(
    email: str, name: str, role: str, admin: bool, password: str
) -> None:
    """Create an account with a role."""
    if admin and role not in (Role.ADMIN, Role.EDITOR):  # EDITOR: the default
        raise click.BadParameter(
            f"--admin and --role {role} disagree; give one of them",
            param_hint="--admin",
        )
    if len(password) < editors.MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"use at least {editors.MIN_PASSWORD_LENGTH} characters",
            param_hint="--password",
        )
    try:
        editor = editors.create_editor(
            email, name, password, role=Role.ADMIN if admin else Role(role)
        )
    except editors.EditorExists:
        raise click.ClickException(f"an editor with {email!r} already exists") from None
    db.session.commit()  # the service recorded the new account
    click.echo(f"Created {editor.role} {editor.email}.")


@click.command("demo")
@with_appcontext
@click.option(
    "--editor-email", default="redaktor@example.se", show_default=True,
    help="Address of the demo admin account.",
)  # fmt: skip
@click.option(
    "--publisher-email", default="utgivare@example.se", show_default=True,
    help="Address of the demo publisher account.",
)  # fmt: skip
def demo_command(editor_email: str, publisher_email: str) -> None:
    """Load demo content and (re)set a demo admin and a demo publisher account,
    printing their passwords."""
    from newsletter.demo import load_demo_content, load_demo_contributions

    _record_themes(themes.ensure_default_themes())
    created = load_demo_content()
    load_demo_contributions()
    accounts = [
        (editor_email, "Demoredaktör", Role.ADMIN),
        (publisher_email, "Demoutgivare", Role.PUBLISHER),
    ]
    passwords = [_reset_demo_account(*account) for account in accounts]
    db.session.commit()
    click.echo(f"Demo content: {created} issue(s) added.")
    for (email, _name, role), password in zip(accounts, passwords, strict=True):
        click.echo(
            f"Log in at /editor/login as {email} ({role}) with password {password}"
        )


def _reset_demo_account(email: str, name: str, role: Role) -> str:
    """Create a demo account, or give an existing one a new password; return it."""
    password = secrets.token_urlsafe(12)
    existing = next((e for e in editors.list_editors() if e.email == email), None)
    if existing is None:
        editors.create_editor(email, name, password, role=role)
    else:
        # The demo prints the role: the account must have it again.
        editors.update_editor(existing.id, role=role, active=True)
        editors.set_password(existing.id, password)
        audit.record("editor.password_changed", "editor", existing.id, existing.email)
    return password


def _record_themes(made: list[Theme]) -> None:
    """Record the default themes a command created."""
    for theme in made:
        audit.record("theme.created", "theme", theme.id, theme.name)


@click.command("seed-themes")
@with_appcontext
def seed_themes_command() -> None:
    """Create the default themes when there are none."""
    _record_themes(themes.ensure_default_themes())
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


@issues_cli.command("send")
@click.argument("slug")
def send_issue_command(slug: str) -> None:
    """Queue an issue for sending now (workers deliver it)."""
    issue = _issue_by_slug(slug)
    try:
        sending.start_sending(issue.id, utcnow())
    except review.ApprovalMissing as refusal:
        raise click.ClickException(f"{slug} cannot be sent: {refusal}") from None
    except InvalidState as exc:
        raise click.ClickException(
            f"{slug} is {exc.status}; it cannot be sent"
        ) from None
    db.session.commit()
    count = sending.recipient_count(issue.id)
    click.echo(f"{slug} is queued for {count} recipient(s); a worker sends it.")


@issues_cli.command("status")
@click.argument("slug")
def issue_status_command(slug: str) -> None:
    """Show an issue's delivery counts."""
    issue = _issue_by_slug(slug)
    progress = sending.progress(issue.id)
    counts = ", ".join(f"{k} {v}" for k, v in progress.counts.items())
    click.echo(f"{slug}: {issue.status}; {counts}")


@search_cli.command("rebuild")
def rebuild_search_command() -> None:
    """Index every published issue afresh (after a restore or an upgrade)."""
    count = search.rebuild()
    audit.record("search.rebuilt", "search", None, "", {"documents": [None, count]})
    db.session.commit()
    click.echo(f"The search index holds {count} document(s).")


def _issue_by_slug(slug: str) -> Issue:
    """Return the issue with this slug or stop with a clear message."""
    issue = db.session.scalar(select(Issue).where(Issue.slug == slug))
    if issue is None:
        raise click.ClickException(f"no issue with the slug {slug!r}")
    return issue


@subscribers_cli.command("add")
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name.")
@click.option(
    "--themes", default="", help="Theme slugs separated by |; empty: every theme."
)
@click.option(
    "--attestation",
    default="Added on the command line; consent was obtained elsewhere.",
    show_default=True,
    help="How the person consented; stored as their consent record.",
)
def add_subscriber_command(
    email: str, name: str, themes: str, attestation: str
) -> None:
    """Add a confirmed subscriber, recorded like any attested import."""
    try:
        row = subscriber_import.import_row(email, name, themes.split("|"))
    except (subscribers.InvalidAddress, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    if subscriber_import.is_suppressed([row.email]):
        raise click.ClickException(
            f"{row.email} was erased at its owner's request; only they can subscribe"
        )
    if len(attestation.strip()) < 20:
        raise click.BadParameter("describe the consent in at least 20 characters")
    subscriber_import.import_subscribers(
        [row], attestation.strip(), "command line", utcnow()
    )
    db.session.commit()
    status = db.session.scalar(select(Subscriber.status).filter_by(email=row.email))
    click.echo(f"{row.email}: {status}")


@subscribers_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--attestation",
    default="",
    help="How these people consented; imports them as confirmed. Without it each "
    "new address gets a confirmation email.",
)
def import_subscribers_command(path: str, attestation: str) -> None:
    """Import subscribers from a CSV file (email,name,themes).

    Nothing is written when any row has an error; addresses already on the list
    are left unchanged.
    """
    # The command line speaks English, like the rest of its output.
    with force_locale("en"):
        preview = subscriber_import.preview_import(Path(path))
    for line, message in preview.errors:
        click.echo(f"line {line}: {message}", err=True)
    if preview.errors:
        raise click.ClickException(f"{len(preview.errors)} error(s); nothing imported")
    if attestation and len(attestation.strip()) < 20:
        raise click.BadParameter("describe the consent in at least 20 characters")
    added = subscriber_import.import_file(
        Path(path), attestation.strip(), "command line", utcnow()
    )
    db.session.commit()
    state = (
        SubscriberStatus.CONFIRMED
        if attestation
        else f"{SubscriberStatus.PENDING}, confirmation emails queued"
    )
    click.echo(f"{added} added ({state}), {preview.existing} already subscribed.")


# Libraries that narrate their work at INFO: WeasyPrint logs seven steps for each
# PDF, fontTools each font it subsets. Their warnings still show.
CHATTY_LOGGERS = ("weasyprint", "fontTools")


def log_to_console() -> None:
    """Log our INFO lines to the console, and only the warnings of libraries."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@click.command("worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes to fork; one per core uses the whole machine.",
)
@with_appcontext
def worker_command(once: bool, processes: int) -> None:
    """Run a delivery worker (any number may run against PostgreSQL)."""
    from flask import current_app

    from newsletter.mail.supervisor import run_workers
    from newsletter.mail.worker import Worker

    log_to_console()
    # current_app is a proxy that the type stubs present as the Flask app itself.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        if processes == 1:
            Worker(app).run(once=once)
        else:
            sys.exit(run_workers(app, processes, once=once))
    except ConfigError as exc:  # a bad DKIM key, say: a message, not a traceback
        raise click.ClickException(str(exc)) from None


@bounces_cli.command("process")
@click.argument("file", type=click.File("rb"), default="-")
@click.option(
    "--recipient",
    default="",
    help="The address the message was delivered to (a pipe's $RECIPIENT or "
    "${original_recipient}), if the mail server passes it.",
)
def process_bounce_command(file: BinaryIO, recipient: str) -> None:
    """Record one bounce (DSN) or complaint (ARF) from FILE or standard input.

    Exits 0 when the message is recorded or ignored (an auto-reply, anything
    else), 75 when the database cannot be reached, so that the mail server keeps
    the message and runs the command again later.
    """
    log_to_console()
    raw = file.read()
    try:
        result = bounces.process(raw, utcnow(), recipient or None)
        db.session.commit()
    except bounces.DATABASE_DOWN as exc:
        bounces.log.warning("database unreachable, try again later: %s", exc)
        raise click.exceptions.Exit(EX_TEMPFAIL) from None
    except IntegrityError:
        # Another process recorded the same report a moment ago.
        db.session.rollback()
        result = bounces.Processed(False, "ignored: recorded by another process")
    bounces.log.info("%s", result.summary)


@contributors_cli.command("add")
@click.argument("organisation")
@click.argument("email", required=False)
@click.option("--email", "email_option", default="", help="The contact's address.")
@click.option("--name", default="", help="The contact's name.")
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The last day (YYYY-MM-DD, Swedish time) the link takes proposals.",
)
def add_contributor_command(
    organisation: str,
    email: str | None,
    email_option: str,
    name: str,
    expires: datetime | None,
) -> None:
    """Make a contribution link for ORGANISATION and print its address once."""
    address = email or email_option
    if not address:
        raise click.UsageError("give the contact's address: EMAIL or --email")
    if not organisation.strip():
        raise click.BadParameter("must not be empty", param_hint="ORGANISATION")
    try:
        link, _token = contributors.create_link(
            organisation,
            address,
            name,
            expires.date() if expires else None,
            audit.command_line().label or "command line",
            utcnow(),
        )
    except subscribers.InvalidAddress:
        raise click.BadParameter(f"{address!r} is not a valid email address") from None
    except contributors.ExpiryPassed:
        raise click.BadParameter(
            "the day is already over", param_hint="--expires"
        ) from None
    url = link_url(link)
    db.session.commit()
    click.echo(f"Contribution link {link.id} for {link.organisation}:")
    click.echo(url)
    click.echo(f"Send it to {link.contact_email} only; anyone with it can propose.")


@contributors_cli.command("list")
def list_contributors_command() -> None:
    """List the contribution links, newest first."""
    rows = contributors.list_links()
    if not rows:
        click.echo("No contribution links yet.")
        return
    now = utcnow()
    click.echo(
        f"{'ID':>5}  {'STATE':8} {'UNTIL':10} {'PROPOSALS':>9}  ORGANISATION (CONTACT)"
    )
    for row in rows:
        link = row.link
        until = contributors.last_day(link)
        click.echo(
            f"{link.id:>5}  {contributors.link_state(link, now):8} "
            f"{until.isoformat() if until else '-':10} {row.proposals:>9}  "
            f"{link.organisation} ({link.contact_email})"
        )


@contributors_cli.command("revoke")
@click.argument("link_id", metavar="ID", type=int)
def revoke_contributor_command(link_id: int) -> None:
    """Revoke contribution link ID: it takes no more proposals."""
    try:
        link = contributors.revoke_link(
            link_id, audit.command_line().label or "command line", utcnow()
        )
    except NotFound:
        raise click.ClickException(
            f"no contribution link has the id {link_id}"
        ) from None
    except contributors.LinkRevoked:
        raise click.ClickException(f"link {link_id} is already revoked") from None
    db.session.commit()
    click.echo(f"Revoked link {link.id} for {link.organisation}.")


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Leave like Ctrl-C does, through the clean-up, instead of dying on the spot."""
    raise SystemExit(0)


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Ask the worker to finish its message and stop; kill it if it will not."""
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--smtp-port", default=8025, show_default=True, type=int)
@with_appcontext
def dev_command(host: str, port: int, smtp_port: int) -> None:
    """Run web, worker and a local mail catcher together (not for production)."""
    from flask import current_app
    from werkzeug.serving import run_simple

    from newsletter.devmail_server import MailCatcher

    # current_app is a proxy that the type stubs present as the Flask app itself.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    # Ctrl-C reaches the worker too; SIGTERM (kill, an IDE's stop button, a
    # supervisor) reaches only this process, which must then stop the worker itself.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    maildir = settings_of(app).mailbox_path
    if not maildir:
        raise click.UsageError("flask dev needs NEWSLETTER_ENV=development")
    catcher = MailCatcher(maildir, port=smtp_port)
    catcher.start()
    env = {
        **os.environ,
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(smtp_port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "NEWSLETTER_BASE_URL": f"http://{host}:{port}",
    }
    update_settings(app, BASE_URL=env["NEWSLETTER_BASE_URL"])
    click.echo(f"Site:         http://{host}:{port}/")
    click.echo(f"Editor:       http://{host}:{port}/editor/")
    click.echo(
        f"Mail catcher: http://{host}:{port}/dev/mail/ (SMTP on port {smtp_port})"
    )
    try:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], env=env
        )
        try:
            run_simple(host, port, app, threaded=True)
        finally:
            _stop_worker(worker)
    finally:
        catcher.stop()


@editors_cli.command("unlock")
@click.argument("email")
def unlock_editor_command(email: str) -> None:
    """Let an account that failed too many logins try again from every address."""
    account = editors.normalise_email(email)
    editor = db.session.scalar(select(Editor).where(Editor.email == account))
    if editor is None:
        raise click.ClickException(f"no editor with the address {email!r}")
    if settings().ratelimit_storage_uri.startswith("memory://"):
        raise click.ClickException(
            "RATELIMIT_STORAGE_URI=memory:// keeps the login counts inside each web "
            "process, out of this command's reach: restart the web processes to "
            "lift the lockout"
        )
    limit = settings().login_account_rate_limit
    window = max(item.get_expiry() for item in parse_many(limit))
    lift_login_lockout(account, window)
    audit.record("editor.unlocked", "editor", editor.id, editor.email)
    db.session.commit()
    click.echo(
        f"{editor.email} may try again to log in from every address "
        "(a client address that tried too often waits for LOGIN_RATE_LIMIT)."
    )


api_keys_cli = AppGroup("api-keys", help="Keys that open the API's figures.")


@api_keys_cli.command("create")
@click.argument("name")
def create_api_key_command(name: str) -> None:
    """Make a key; it is printed this once and kept only as a hash."""
    try:
        made = api_keys.create_key(name, by=audit.command_line().label)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"API key {made.row.id} ({made.row.name}): {made.key}")
    click.echo("Keep it now: it cannot be shown again.")


@api_keys_cli.command("list")
def list_api_keys_command() -> None:
    """List keys: id, beginning, name, creator, last use, state."""
    rows = api_keys.list_keys()
    if not rows:
        click.echo("No API keys.")
    for row in rows:
        used = (
            row.last_used_at.isoformat(timespec="minutes")
            if row.last_used_at
            else "never"
        )
        state = "active" if row.active else "revoked"
        click.echo(
            f"{row.id:4} {row.prefix}… {state:8} used {used:16} "
            f"{row.name} (by {row.created_by})"
        )


@api_keys_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke_api_key_command(key_id: int) -> None:
    """Revoke a key for good."""
    try:
        row = api_keys.revoke_key(key_id, utcnow())
    except NotFound:
        raise click.ClickException(f"no API key with the id {key_id}") from None
    db.session.commit()
    click.echo(f"API key {row.id} ({row.name}) is revoked.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(create_editor_command)
    app.cli.add_command(editors_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(seed_themes_command)
    app.cli.add_command(issues_cli)
    app.cli.add_command(dev_command)
    app.cli.add_command(subscribers_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(bounces_cli)
    app.cli.add_command(links_cli)
    app.cli.add_command(contributors_cli)
    app.cli.add_command(plan_cli)
    app.cli.add_command(pdf_cli)
    app.cli.add_command(api_keys_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(media_cli)
