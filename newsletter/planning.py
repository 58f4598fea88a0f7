"""The quarterly plan at the boundaries: the worker's reminder duty and the
`plan` commands. Both run the services and commit here."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import click
from babel.dates import format_date
from flask.cli import AppGroup

from newsletter.config import Settings, settings
from newsletter.database import is_database_outage
from newsletter.extensions import db
from newsletter.models.types import utcnow
from newsletter.services import audit, plan, reminders

log = logging.getLogger(__name__)


def remind(
    now: datetime, days: int, actor: audit.Actor | None = None
) -> list[reminders.Reminder]:
    """Queue the due deadline reminders and commit; return those queued."""
    queued = reminders.send_reminders(now, days, actor)
    db.session.commit()
    return queued


class ReminderDuty:
    """A worker's duty: queue due deadline reminders at most every
    CONTRIBUTION_REMINDER_EVERY_SECONDS (0: every round)."""

    def __init__(self, config: Settings) -> None:
        self.days = config.contribution_reminder_days
        self.every = timedelta(seconds=config.contribution_reminder_every_seconds)
        self.next_at: datetime | None = None

    @classmethod
    def from_settings(cls, config: Settings) -> ReminderDuty | None:
        """Return the duty unless CONTRIBUTION_REMINDER_DAYS is 0."""
        return cls(config) if config.contribution_reminder_days > 0 else None

    def remind_when_due(self, now: datetime) -> bool:
        """Queue due reminders if it is time; return whether any were queued.

        A failure is logged and rolled back: reminders never stop sending.
        """
        if self.next_at is not None and now < self.next_at:
            return False
        self.next_at = now + self.every
        try:
            queued = remind(now, self.days, audit.WORKER)
        except Exception as exc:  # noqa: BLE001 - reminders are tried again later
            if is_database_outage(exc):
                log.debug("no reminders sent: %s", exc)
            else:
                log.exception("deadline reminders failed; trying again later")
            db.session.rollback()
            self.next_at = now  # try again next round
            return False
        if queued:
            log.info("queued %d deadline reminders", len(queued))
        return bool(queued)


plan_cli = AppGroup("plan", help="The year's plan of issues and deadline reminders.")


def _line(reminder: reminders.Reminder) -> str:
    """Describe one reminder: to whom, about which issue and deadline."""
    link, issue = reminder.link, reminder.issue
    deadline = issue.contribution_deadline
    day = format_date(deadline, "long", locale="sv") if deadline else ""
    return f"{link.organisation} <{link.contact_email}>: {issue.title} ({day})"


@plan_cli.command("remind")
@click.option("--dry-run", is_flag=True, help="Print who would be reminded; send none.")
def remind_command(dry_run: bool) -> None:
    """Remind every open contribution link of a deadline within
    CONTRIBUTION_REMINDER_DAYS days, once per issue."""
    days = settings().contribution_reminder_days
    if days <= 0:
        click.echo("Reminders are off (CONTRIBUTION_REMINDER_DAYS is 0).")
        return
    now = utcnow()
    if dry_run:
        due = reminders.due_reminders(now, days)
        db.session.rollback()
        for reminder in due:
            click.echo(f"would remind {_line(reminder)}")
        click.echo(f"{len(due)} reminders would be sent.")
        return
    queued = remind(now, days)
    for reminder in queued:
        click.echo(f"reminded {_line(reminder)}")
    click.echo(f"{len(queued)} reminders queued; a worker sends them.")


def _months(text: str) -> list[int]:
    """Read "3,6,9,12" as month numbers, or explain what is wrong."""
    try:
        months = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(
            "give month numbers separated by commas, e.g. 3,6,9,12"
        ) from None
    if not months or any(not 1 <= m <= 12 for m in months):
        raise click.BadParameter("months are numbers from 1 to 12")
    return months


@plan_cli.command("create")
@click.argument("year", type=click.IntRange(2000, 2999))
@click.option("--months", default="3,6,9,12", show_default=True, help="Month numbers.")
@click.option(
    "--pattern",
    default=plan.DEFAULT_PATTERN,
    show_default=True,
    help="Title; {månad}/{month} and {år}/{year} are filled in.",
)
@click.option(
    "--day",
    default=plan.DEFAULT_PUBLISH_DAY,
    show_default=True,
    type=click.IntRange(1, 31),
    help="Publication day of the month.",
)
@click.option(
    "--deadline-days",
    default=plan.DEFAULT_DEADLINE_DAYS,
    show_default=True,
    type=click.IntRange(0, 120),
    help="Deadline for proposals, in days before publication.",
)
def create_command(
    year: int, months: str, pattern: str, day: int, deadline_days: int
) -> None:
    """Create a draft issue for each month of YEAR that has none planned."""
    chosen = _months(months)
    try:
        result = plan.create_year_plan(
            year, chosen, pattern, day, deadline_days, audit.command_line().label
        )
    except plan.BadPattern as error:
        db.session.rollback()
        what = f"{{{error.placeholder}}}" if error.placeholder else "a brace"
        raise click.BadParameter(
            f"unknown placeholder {what}; use {{månad}}, {{år}}, {{month}} or {{year}}",
            param_hint="--pattern",
        ) from None
    db.session.commit()
    for issue in result.created:
        click.echo(
            f"created {issue.title} ({issue.slug}): published {issue.publish_on}, "
            f"deadline {issue.contribution_deadline}"
        )
    for month in result.skipped:
        click.echo(f"skipped {plan.month_name(month.month)} {year}: already planned")
